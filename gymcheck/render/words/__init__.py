"""The words people read for each check's steps, one module per check.

Checks return data: a step is a stable name, a status and what was measured. The console, HTML
and JUnit renderers all take a step's sentence from ``step_text``, so each check's words are
written once, here.
"""

from __future__ import annotations

from collections.abc import Callable

from gymcheck.render.words import (
    collection,
    continuity,
    endpoint,
    gradients,
    logprobs,
    tokenizer,
    training_batch,
)
from gymcheck.report import Step

StepWords = Callable[[Step], str | None]

_BY_CHECK: dict[str, StepWords] = {
    "http_endpoint": endpoint.step_text,
    "token_roundtrip": tokenizer.step_text,
    "rollout_collection": collection.step_text,
    "token_continuity": continuity.step_text,
    "gradient_flow": gradients.step_text,
    "logprob_agreement": logprobs.step_text,
    "training_batch": training_batch.step_text,
}


def step_text(check_id: str, step: Step) -> str:
    """The sentence for ``step`` of check ``check_id``."""
    words = _BY_CHECK.get(check_id)
    text = words(step) if words is not None else None
    return text if text is not None else step.name
