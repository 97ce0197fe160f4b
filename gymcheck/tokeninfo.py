"""Token information in a chat completion, read the way NeMo Gym's ``vllm_model`` reads it.

Three forms, in Gym's order of preference (DESIGN.md section 3):
1. ``message_fields``: ``choices[0].message`` carries ``prompt_token_ids``,
   ``generation_token_ids`` and ``generation_log_probs`` (NeMo RL's HTTP server).
2. ``return_token_ids``: top-level ``prompt_token_ids`` plus ``choices[0].token_ids``
   (vLLM with ``"return_token_ids": true``); logprobs from ``choices[0].logprobs.content``.
3. ``token_id_strings``: ``choices[0].logprobs.content[i].token == "token_id:<id>"`` (vLLM with
   ``--return-tokens-as-token-ids``); the prompt ids come from ``POST /tokenize``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

TokenForm = Literal["message_fields", "return_token_ids", "token_id_strings"]

# What Gym adds to every chat completion request to get token information back.
GYM_TOKEN_REQUEST_PARAMS: dict[str, Any] = {
    "logprobs": True,
    "top_logprobs": 0,
    "return_tokens_as_token_ids": True,
    "return_token_ids": True,
}

TOKEN_ID_PREFIX = "token_id:"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    form: TokenForm
    prompt_token_ids: list[int] | None
    """``None`` in the ``token_id_strings`` form: ask ``/tokenize`` for them."""
    generation_token_ids: list[int]
    generation_log_probs: list[Any]
    """As the server sent them: floats when healthy."""


def _first_choice(completion: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choices = completion.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return None


def _logprob_entries(choice: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, Mapping):
        return None
    content = logprobs.get("content")
    if not isinstance(content, list):
        return None
    return [entry for entry in content if isinstance(entry, Mapping)]


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


def _parse_token_id(token: Any) -> int | None:
    if isinstance(token, str) and token.startswith(TOKEN_ID_PREFIX):
        digits = token[len(TOKEN_ID_PREFIX) :]
        if digits.isdigit():
            return int(digits)
    return None


def extract_token_info(completion: Mapping[str, Any]) -> TokenInfo | None:
    """The token information of a chat completion in the first form present, else ``None``.

    Lengths are not reconciled here: a logprob list shorter than the ids is returned as it is,
    so the checks can report the mismatch.
    """
    choice = _first_choice(completion)
    if choice is None:
        return None
    message = choice.get("message")
    if isinstance(message, Mapping) and _is_id_list(message.get("generation_token_ids")):
        prompt = message.get("prompt_token_ids")
        return TokenInfo(
            form="message_fields",
            prompt_token_ids=list(prompt) if prompt is not None and _is_id_list(prompt) else None,
            generation_token_ids=list(message["generation_token_ids"]),
            generation_log_probs=list(message.get("generation_log_probs") or []),
        )
    entries = _logprob_entries(choice)
    # Not validated here: a null or non-numeric logprob is the counts check's to report.
    logprobs: list[Any] = [e.get("logprob") for e in entries] if entries is not None else []
    if _is_id_list(choice.get("token_ids")) and _is_id_list(completion.get("prompt_token_ids")):
        return TokenInfo(
            form="return_token_ids",
            prompt_token_ids=list(completion["prompt_token_ids"]),
            generation_token_ids=list(choice["token_ids"]),
            generation_log_probs=logprobs,
        )
    if entries:
        ids = [_parse_token_id(entry.get("token")) for entry in entries]
        if all(i is not None for i in ids):
            return TokenInfo(
                form="token_id_strings",
                prompt_token_ids=None,
                generation_token_ids=[i for i in ids if i is not None],
                generation_log_probs=logprobs,
            )
    return None
