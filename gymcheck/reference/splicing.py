"""NeMo RL's prefix splicing: keep the exact tokens of an earlier turn in the new prompt.

An agent sends each earlier assistant turn back with the ids the server returned for it
(``prompt_token_ids`` + ``generation_token_ids``). The chat template's render of the new
conversation may tokenize that turn differently (a non-canonical sample, a re-rendered tool
call), so, like NeMo RL's ``_replace_prefix_tokens``, the rendered ids up to the EOS that ends
the last such assistant turn are replaced by the exact earlier ids, and the rest of the render
is appended. A top-level ``required_prefix_token_ids`` (NeMo Gym's prefix supply) names those
ids explicitly, and wins over the ones on the messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gymcheck.errors import GymcheckError
from gymcheck.rollout import TOKEN_FIELDS


class SplicingError(GymcheckError):
    """The earlier ids cannot be spliced into the render (no EOS boundary to cut at)."""


def required_prefix(
    messages: Sequence[dict[str, Any]], required_ids: Sequence[int] | None = None
) -> tuple[int, list[int]] | None:
    """The message to splice after and the exact ids that stand for the conversation up to it.

    As NeMo RL's server: a top-level ``required_prefix_token_ids`` (``required_ids``; NeMo Gym's
    prefix supply sends it) wins; otherwise the last message with token ids gives its
    ``prompt + generation`` ids. The splice point is that message, or, for a top-level prefix
    without one, the last assistant turn.
    """
    index = next(
        (
            i
            for i in range(len(messages) - 1, -1, -1)
            if messages[i].get("prompt_token_ids") is not None
        ),
        None,
    )
    if required_ids is not None:
        if index is None:
            index = next(
                (i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "assistant"),
                None,
            )
        if index is None:
            raise SplicingError("required_prefix_token_ids needs an earlier assistant turn")
        return index, list(required_ids)
    if index is None:
        return None
    message = messages[index]
    return index, list(message["prompt_token_ids"]) + list(
        message.get("generation_token_ids") or []
    )


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
