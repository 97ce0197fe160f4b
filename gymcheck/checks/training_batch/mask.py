"""The sample's trained positions against the generated ones.

Diagnosed, not only compared: a mask that is the right one moved by k positions is one
``batch_mask_shifted`` with its shift; the rest is one finding per kind and turn.
"""

from __future__ import annotations

from collections.abc import Sequence

from gymcheck.checks.training_batch.pair import Alignment, Pair, shift_words
from gymcheck.report import Finding

SHIFTS = (1, -1, 2, -2, 3, -3)


def shifted(mask: Sequence[int], by: int) -> list[int]:
    """``mask`` moved ``by`` positions later (earlier when negative), zeros shifted in."""
    if by > 0:
        return [0] * by + list(mask[:-by])
    return list(mask[-by:]) + [0] * -by


def mask_findings(pair: Pair, al: Alignment) -> list[Finding]:
    generated = pair.truth.sample.generated_mask
    window = al.truth_range()
    trained = pair.sample.trained[al.sample_start : al.sample_start + al.length]
    expected = generated[window.start : window.stop]
    if trained == expected:
        return []
    ids = pair.truth.token_ids
    if not any(trained) and any(expected):
        first = window.start + expected.index(1)
        return [
            pair.finding_at(
                "batch_mask_missing_generation",
                f"nothing is trained: the mask is 0 on all {sum(expected)} generated tokens",
                al,
                first,
                expected=pair.masked_text(ids, generated, first),
                actual="(no trained token)",
                missing_tokens=sum(expected),
            )
        ]
    for by in SHIFTS:
        if any(trained) and trained == shifted(generated, by)[window.start : window.stop]:
            return [_shifted_finding(pair, al, by)]
    return _differences(pair, al)


def _shifted_finding(pair: Pair, al: Alignment, by: int) -> Finding:
    generated = pair.truth.sample.generated_mask
    moved = shifted(generated, by)
    first = next(i for i in al.truth_range() if moved[i] != generated[i])
    ids = pair.truth.token_ids
    return pair.finding_at(
        "batch_mask_shifted",
        f"the loss mask is the generated-token mask moved {shift_words(by)} (shift {by:+d}): "
        f"token {al.to_sample(first)} ({pair.token(first)!r}) is "
        f"{'trained but not generated' if moved[first] else 'generated but not trained'}",
        al,
        first,
        expected=pair.masked_text(ids, generated, first),
        actual=pair.masked_text(ids, moved, first),
        shift=by,
    )


def _differences(pair: Pair, al: Alignment) -> list[Finding]:
    """One finding per (kind, turn): prompt trained, tool output trained, generation missing."""
    generated = pair.truth.sample.generated_mask
    trained = pair.sample.trained
    first_generated = pair.truth.first_generated
    groups: dict[tuple[str, int | None], list[int]] = {}
    for i in al.truth_range():
        is_trained, is_generated = trained[al.to_sample(i)], generated[i]
        if is_trained == is_generated:
            continue
        if is_trained:
            code = "batch_mask_prompt" if i < first_generated else "batch_mask_tool_output"
        else:
            code = "batch_mask_missing_generation"
        groups.setdefault((code, pair.turn_at(i)), []).append(i)
    sample_mask = [
        trained[al.to_sample(i)] if i in al.truth_range() else 0 for i in range(len(generated))
    ]
    return [
        _difference(pair, al, code, turn, positions, sample_mask)
        for (code, turn), positions in groups.items()
    ]


def _difference(
    pair: Pair,
    al: Alignment,
    code: str,
    turn: int | None,
    positions: list[int],
    sample_mask: list[int],
) -> Finding:
    ids = pair.truth.token_ids
    first = positions[0]
    where = f"first at token {al.to_sample(first)} ({pair.token(first)!r})"
    ends = {span.end - 1 for span in pair.truth.sample.spans}
    if code == "batch_mask_prompt":
        message = f"{len(positions)} token(s) of the first prompt are trained, {where}"
    elif code == "batch_mask_tool_output":
        message = (
            f"{len(positions)} token(s) that a later prompt added (tool output, template) are "
            f"trained after turn {turn}, {where}"
        )
    elif set(positions) <= ends:
        message = (
            f"the last generated token of turn {turn} ({pair.token(first)!r}, "
            "usually the EOS) is not trained"
        )
    else:
        message = f"{len(positions)} generated token(s) of turn {turn} are not trained, {where}"
    return pair.finding(
        code,
        message,
        token_index=al.to_sample(first),
        turn=turn,
        expected=pair.masked_text(ids, pair.truth.sample.generated_mask, first),
        actual=pair.masked_text(ids, sample_mask, first),
        tokens=len(positions),
        positions=[al.to_sample(i) for i in positions[:32]],
    )
