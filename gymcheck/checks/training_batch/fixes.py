"""What each ``batch_*`` finding means in the convention of the shape it was found in.

A fix names the framework's own field and rule, so the user knows which line of their
processing to change.
"""

from __future__ import annotations

_MASK = {
    "nemo-rl": "in NeMo RL's message_log only the assistant entries are trained: token_loss_mask "
    "is 1 on every token_ids entry of an assistant message (its EOS included) and 0 on the "
    "user/tool/system entries that hold the prompt slices",
    "trl": "TRL's env_mask must be 1 on every completion token the model generated (its EOS "
    "included) and 0 on tool-output tokens, aligned with completion_ids; prompt_ids are never "
    "trained",
    "verl": "verl's response_mask must be 1 on the LLM-generated tokens of response_ids (EOS "
    "included) and 0 on tool/observation tokens, aligned with response_ids",
    "hf": "Hugging Face labels are unshifted: labels[t] = input_ids[t] on generated tokens and "
    "-100 everywhere else; the model shifts them itself, so do not shift them in the processor",
    "flat": "loss_mask[t] weights log p(input_ids[t] | input_ids[:t]): 1 exactly on generated "
    "tokens (EOS included), 0 on the prompt, tool outputs and template tokens, not shifted",
}

_LOGPROBS = {
    "nemo-rl": "NeMo RL's generation_logprobs on an assistant entry hold one engine log-prob per "
    "token_ids entry, in order: copy generation_log_probs as Gym returned them",
    "trl": "TRL's logprobs[i] is the engine's log-prob of completion_ids[i]: copy "
    "generation_log_probs for generated tokens and fill only tool-output positions",
    "verl": "verl's response_logprobs[i] is the engine's log-prob of response_ids[i]: copy "
    "generation_log_probs for generated tokens, 0 only on tool/observation tokens",
    "hf": "log-probs stored beside input_ids must be aligned with them: logprobs[t] scores "
    "input_ids[t]",
    "flat": "logprobs[t] is the engine's log-prob of input_ids[t]: copy generation_log_probs "
    "onto the generated positions, unshifted",
}

_REWARD = {
    "nemo-rl": "the sample's reward (NeMo RL: total_reward) must be the reward of the rollout it "
    "was built from: keep samples and rewards in the same order",
    "trl": "TRL's env_reward[i] must belong to completion i: keep the rollout_func's lists in "
    "the same order",
    "verl": "verl's reward_score must be the reward NeMo Gym returned for this rollout",
    "hf": "the sample's reward must be the reward of the rollout it was built from",
    "flat": "the sample's reward must be the reward of the rollout it was built from",
}

_TRUNCATED = (
    "the sequence was cut by a maximum length (max_seq_len, max_completion_length, "
    "max_response_length): raise it to the rollout's length, or drop/mask over-long rollouts "
    "instead of training their cut-off tail"
)

_FAILED = (
    "a failed rollout (no generated tokens) must not train: drop it from the batch or give it "
    "an all-zero mask (NeMo RL: loss_multiplier 0; TRL: env_mask 0; verl: response_mask 0)"
)

_FORMAT = (
    "return one of the sample shapes of DESIGN section 3b (message_log; prompt_ids + "
    "completion_ids + env_mask; prompt_ids + response_ids + response_mask; input_ids + labels; "
    "input_ids + loss_mask), or pass --batch-format"
)

_TOKENS = (
    "build the sample from the rollout's own token ids (prompt_token_ids, generation_token_ids), "
    "never by re-tokenizing or re-rendering its text"
)


def fix_for(code: str, shape: str | None) -> str:
    """The fix of a finding code in the convention of ``shape``."""
    shape = shape or "flat"
    by_code = {
        "batch_mask_prompt": _MASK,
        "batch_mask_tool_output": _MASK,
        "batch_mask_missing_generation": _MASK,
        "batch_mask_shifted": _MASK,
        "batch_logprobs_shifted": _LOGPROBS,
        "batch_logprobs_placeholder": _LOGPROBS,
        "batch_logprobs_mismatch": _LOGPROBS,
        "batch_reward_mismatch": _REWARD,
    }
    if code in by_code:
        return by_code[code].get(shape, by_code[code]["flat"])
    return {
        "batch_truncated": _TRUNCATED,
        "batch_failed_rollout_trained": _FAILED,
        "batch_format": _FORMAT,
        "batch_tokens_mismatch": _TOKENS,
    }.get(code, _FORMAT)
