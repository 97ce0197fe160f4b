"""What to change on the server when a sub-check fails, for vLLM, SGLang and NeMo RL."""

from __future__ import annotations

FIXES: dict[str, str] = {
    "models": "serve the OpenAI-compatible API under --base-url (vLLM: python -m "
    "vllm.entrypoints.openai.api_server; SGLang: python -m sglang.launch_server; NeMo RL: "
    "expose_http_server: true in the vLLM generation config) and pass --model with a listed id",
    "chat": "make POST /v1/chat/completions answer; check the server log for the error",
    "tool_calls": "enable tool calling: vLLM --enable-auto-tool-choice --tool-call-parser hermes "
    "(Qwen) ; SGLang --tool-call-parser qwen25; NeMo RL: set the vLLM tool parser in the "
    "generation config; give the model enough max_tokens to close the call",
    "token_info": 'return token ids: vLLM honours "return_token_ids": true in the request '
    "(form 2), or start it with --return-tokens-as-token-ids (form 3); NeMo RL: "
    "expose_http_server: true serves form 1; SGLang's chat route returns no token ids "
    "(patch it or put a vLLM/NeMo RL server behind Gym); keep logprobs: true and "
    "top_logprobs: 0 in the request (NeMo Gym's vllm_model sends them with "
    "return_token_id_information: true)",
    "counts": "the server must return exactly one logprob per generated token and usage counts "
    "that match the ids; a proxy or post-processing that trims tokens breaks training",
    "max_tokens": "honour the request's max_tokens (vLLM and SGLang do; a proxy that rewrites "
    "the request, or a generation loop that ignores it, makes Gym's rollouts unbounded)",
    "tokenize": "/tokenize must render the chat template exactly as the completion does: same "
    "tokenizer, same chat template, same tools (vLLM: do not override --chat-template on one "
    "route only)",
    "decode": "serve the tokenizer that matches the model's vocabulary (--tokenizer) and do not "
    "post-process the returned text",
    "multi_turn": "for multi-turn training serve through NeMo RL's HTTP server "
    "(expose_http_server: true), which splices each earlier turn's exact tokens "
    "(required_prefix_token_ids); or train on single turns only",
    "top_logprobs_null": "send top_logprobs: 0 (not null) with logprobs: true, and "
    "return_token_ids: true; or make the server reject top_logprobs: null with a 400",
    "bad_request": "validate request bodies and answer 400/422 (vLLM and SGLang do); a 500 or a "
    "hang makes Gym retry a request that can never succeed",
    "burst": "raise the server's concurrency limits (vLLM --max-num-seqs, SGLang "
    "--max-running-requests) and check its log for errors under load",
}
