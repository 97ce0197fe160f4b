"""The reference server's response bodies, shaped as vLLM and NeMo RL's server shape them.

Token information comes back in contract forms 1 and 2 at once (DESIGN.md section 3), and as
``token_id:<id>`` strings in ``logprobs.content`` when asked.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from gymcheck.reference.faults import ServerFaults
from gymcheck.reference.generation import Generation
from gymcheck.reference.server.requests import null_top_logprobs
from gymcheck.reference.toolcalls import ParsedAssistant
from gymcheck.tokeninfo import TOKEN_ID_PREFIX


def completion_body(
    body: Mapping[str, Any],
    *,
    model: str,
    prompt: list[int],
    generation: Generation,
    parsed: ParsedAssistant,
    decode: Callable[[list[int]], str],
    want_logprobs: bool,
    faults: ServerFaults,
) -> dict[str, Any]:
    """The ``chat.completion`` object for ``generation``, whose text parsed to ``parsed``."""
    ids = generation.token_ids
    finish = generation.finish_reason
    if parsed.tool_calls and finish == "stop":
        finish = "tool_calls"
    message: dict[str, Any] = {
        "role": "assistant",
        "content": parsed.content if parsed.content or not parsed.tool_calls else None,
        "reasoning_content": parsed.reasoning,
        "tool_calls": parsed.tool_calls,
    }
    logprobs = faults.reported_logprobs(list(generation.logprobs))
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish,
        "stop_reason": None,
    }
    completion: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": len(prompt),
            "completion_tokens": len(ids),
            "total_tokens": len(prompt) + len(ids),
        },
    }
    if faults.omits_token_ids(null_top_logprobs=null_top_logprobs(body)):
        return completion
    # Form 1: NeMo RL's message fields.
    message["prompt_token_ids"] = prompt
    message["generation_token_ids"] = ids
    message["generation_log_probs"] = logprobs
    # Form 2: vLLM's return_token_ids.
    if body.get("return_token_ids"):
        completion["prompt_token_ids"] = prompt
        choice["token_ids"] = ids
    if want_logprobs:
        as_ids = bool(body.get("return_tokens_as_token_ids"))
        choice["logprobs"] = {
            "content": logprob_entries(ids, logprobs, generation, decode=decode, as_ids=as_ids)
        }
    return completion


def logprob_entries(
    ids: list[int],
    logprobs: list[float],
    generation: Generation,
    *,
    decode: Callable[[list[int]], str],
    as_ids: bool,
) -> list[dict[str, Any]]:
    """``logprobs.content``: one entry per generated token, its text or ``token_id:<id>``."""

    def token_text(token: int) -> str:
        if as_ids:
            return f"{TOKEN_ID_PREFIX}{token}"
        return decode([token])

    entries = []
    for position, (token, logprob) in enumerate(zip(ids, logprobs, strict=False)):
        text = token_text(token)
        top = generation.top_logprobs[position] if generation.top_logprobs else []
        entries.append(
            {
                "token": text,
                "logprob": logprob,
                "bytes": list(text.encode("utf-8")),
                "top_logprobs": [
                    {"token": token_text(t), "logprob": lp, "bytes": None} for t, lp in top
                ],
            }
        )
    return entries


def tokenize_body(tokens: list[int], max_model_len: int) -> dict[str, Any]:
    return {
        "tokens": tokens,
        "count": len(tokens),
        "max_model_len": max_model_len,
        "token_strs": None,
    }


def models_body(
    served_model_name: str, created: int, root: str, max_model_len: int
) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": served_model_name,
                "object": "model",
                "created": created,
                "owned_by": "gymcheck",
                "root": root,
                "max_model_len": max_model_len,
            }
        ],
    }
