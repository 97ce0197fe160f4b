"""The engine log-probs a sample stores, against the ones the rollout reported.

Held at the generated positions only: shifted by k positions, a filler value (0.0 or one
constant) where the engine reported real ones, or other values.
"""

from __future__ import annotations

from typing import Any

from gymcheck.checks.training_batch.pair import Alignment, Pair, shift_words
from gymcheck.processing.values import logprobs
from gymcheck.report import Finding

SHIFTS = (1, -1, 2, -2, 3, -3)
# bf16 storage keeps ~3 significant digits; a shift or a filler is far larger.
_ABS_TOLERANCE = 1e-3
_REL_TOLERANCE = 8e-3
_SHIFT_AGREEMENT = 0.9


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) <= _ABS_TOLERANCE + _REL_TOLERANCE * abs(b)


def _copied_exactly(pair: Pair, al: Alignment, stored: list[float | None]) -> bool:
    """The common case, checked without a per-token loop: every generation's log-probs are
    the engine's, value for value."""
    truth = pair.truth.sample.sequence.generation_logprobs
    for span in pair.truth.sample.spans:
        start, end = max(span.start, al.truth_start), min(span.end, al.truth_start + al.length)
        if start < end and stored[al.to_sample(start) : al.to_sample(end)] != truth[start:end]:
            return False
    return True


def logprob_findings(pair: Pair, al: Alignment) -> list[Finding]:
    stored = pair.sample.logprobs
    if stored is None or _copied_exactly(pair, al, stored):
        return []
    truth = logprobs(pair.truth.sample.sequence.generation_logprobs)
    generated = pair.truth.sample.generated_mask
    window = al.truth_range()
    positions = [i for i in window if generated[i] and truth[i] is not None]

    def at(i: int) -> float | None:
        return stored[al.to_sample(i)]

    if not positions or all(at(i) is None for i in positions):
        return []  # the sample stores no engine log-probs to compare
    wrong = [i for i in positions if not close(at(i), truth[i])]
    if not wrong:
        return []
    aligned_ok = len(positions) - len(wrong)
    for by in SHIFTS:
        comparable = [i for i in positions if (i - by) in window and truth[i - by] is not None]
        matches = sum(close(at(i), truth[i - by]) for i in comparable)
        if (
            len(comparable) * 2 >= len(positions)
            and matches >= _SHIFT_AGREEMENT * len(comparable)
            and matches > aligned_ok
        ):
            return [_shifted(pair, al, by, positions, truth)]
    values = {at(i) for i in wrong}
    first = wrong[0]
    common: dict[str, Any] = {
        "expected": f"{truth[first]!r} for {pair.token(first)!r}",
        "actual": repr(at(first)),
        "tokens": len(wrong),
        "generated_tokens": len(positions),
    }
    if len(values) == 1 and (len(wrong) > 1 or values <= {0.0, None}):
        value = next(iter(values))
        return [
            pair.finding_at(
                "batch_logprobs_placeholder",
                f"{len(wrong)} of {len(positions)} generated token(s) carry the filler log-prob "
                f"{value!r} where the engine reported real ones, first at token "
                f"{al.to_sample(first)}",
                al,
                first,
                value=value,
                **common,
            )
        ]
    return [
        pair.finding_at(
            "batch_logprobs_mismatch",
            f"{len(wrong)} of {len(positions)} generated token(s) carry engine log-probs that are "
            f"not the rollout's (no shift explains them), first at token {al.to_sample(first)}",
            al,
            first,
            **common,
        )
    ]


def _shifted(
    pair: Pair, al: Alignment, by: int, positions: list[int], truth: list[float | None]
) -> Finding:
    first = next(i for i in positions if not close(pair.sample.logprobs[al.to_sample(i)], truth[i]))  # type: ignore[index]
    return pair.finding_at(
        "batch_logprobs_shifted",
        f"the engine log-probs sit {shift_words(by)} than the tokens they score "
        f"(shift {by:+d}): the value at token {al.to_sample(first)} ({pair.token(first)!r}) is "
        f"the one of token {al.to_sample(first - by)}",
        al,
        first,
        expected=f"{truth[first]!r} for {pair.token(first)!r}",
        actual=repr(pair.sample.logprobs[al.to_sample(first)]),  # type: ignore[index]
        shift=by,
    )
