"""NeMo RL's prefix splicing: keep the exact tokens of an earlier turn in the new prompt.

An agent sends each earlier assistant turn back with the ids the server returned for it
(``prompt_token_ids`` + ``generation_token_ids``). The chat template's render of the new
conversation may tokenize that turn differently (a non-canonical sample, a re-rendered tool
call), so, like NeMo RL's ``_replace_prefix_tokens``, the rendered ids up to the EOS that ends
the last such assistant turn are replaced by the exact earlier ids, and the rest of the render
is appended.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

TOKEN_FIELDS = ("prompt_token_ids", "generation_token_ids", "generation_log_probs")


class SplicingError(ValueError):
    """The earlier ids cannot be spliced into the render (no EOS boundary to cut at)."""


def required_prefix(messages: Sequence[dict[str, Any]]) -> tuple[int, list[int]] | None:
    """Index of the last message that carries token ids and its ``prompt + generation`` ids."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("prompt_token_ids") is not None:
            ids = list(message["prompt_token_ids"]) + list(
                message.get("generation_token_ids") or []
            )
            return index, ids
    return None


def strip_token_fields(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key not in TOKEN_FIELDS}


def replace_prefix_tokens(
    *,
    eos_token_id: int,
    model_prefix_ids: Sequence[int],
    template_prefix_ids: Sequence[int],
    template_ids: Sequence[int],
) -> list[int]:
    """The exact earlier ids, then the render from the EOS that closes the earlier turn.

    ``template_prefix_ids`` is the render of the conversation up to and including that
    assistant turn; the cut is at the last EOS within its length. A trailing EOS on the model
    ids is dropped (the render supplies one); without it (``max_tokens`` cut the turn) the
    render's EOS closes the turn.
    """
    if not model_prefix_ids:
        return list(template_ids)
    model_end = len(model_prefix_ids)
    if model_prefix_ids[-1] == eos_token_id:
        model_end -= 1
    if len(template_ids) <= len(template_prefix_ids):
        raise SplicingError(
            "the conversation after the last assistant turn with token ids renders to nothing "
            "new; the trajectory does not grow"
        )
    cut = next(
        (
            pos
            for pos in range(min(len(template_prefix_ids), len(template_ids)) - 1, -1, -1)
            if template_ids[pos] == eos_token_id
        ),
        -1,
    )
    if cut < 0:
        raise SplicingError("no EOS token in the rendered conversation to splice at")
    return list(model_prefix_ids[:model_end]) + list(template_ids[cut:])
