"""The words people read for each check, one module per check.

Checks return data: a step is a stable name, a status and what was measured. Each check's module
here writes its words once: ``HEADING``, the console line that opens the check's section;
``PROVES``, what a pass proves (``gymcheck checks``); and ``step_text``, the sentence for each
step, which the console, HTML and JUnit renderers all take from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

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


class CheckWords(Protocol):
    """What each check's words module holds."""

    HEADING: str
    PROVES: str

    def step_text(self, step: Step) -> str | None: ...


WORDS: Mapping[str, CheckWords] = {
    "http_endpoint": endpoint,
    "token_roundtrip": tokenizer,
    "rollout_collection": collection,
    "token_continuity": continuity,
    "gradient_flow": gradients,
    "logprob_agreement": logprobs,
    "training_batch": training_batch,
}
"""Each check's words, by check id."""


def heading(check_id: str) -> str:
    """The console line that opens check ``check_id``'s section."""
    words = WORDS.get(check_id)
    return words.HEADING if words is not None else f"🔎 Running {check_id}..."


def proves(check_id: str) -> str:
    """What a pass of check ``check_id`` proves, in one sentence ("" for a check without words)."""
    words = WORDS.get(check_id)
    return words.PROVES if words is not None else ""


def step_text(check_id: str, step: Step) -> str:
    """The sentence for ``step`` of check ``check_id``."""
    words = WORDS.get(check_id)
    text = words.step_text(step) if words is not None else None
    return text if text is not None else step.name
