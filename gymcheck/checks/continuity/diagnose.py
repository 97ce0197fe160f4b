"""The diagnosis of a continuity break: decode both sides and name one cause.

The causes are tried in the order of ``causes.CAUSES``; each break becomes one
``continuity_break`` finding with the cause, its evidence, decoded windows and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from gymcheck.checks.continuity.causes import CAUSES
from gymcheck.checks.continuity.detect import find_breaks
from gymcheck.checks.continuity.text import (
    Decoder,
    canonical_text,
    item_texts,
    split_reasoning,
    window,
)
from gymcheck.checks.token_window import token_window
from gymcheck.errors import RolloutFormatError
from gymcheck.reasoning import REASONING_MARKERS
from gymcheck.report import NOWHERE, Finding, Location
from gymcheck.rollout import Turn, trainable_turns

CONTINUITY_BREAK = "continuity_break"


@dataclass(slots=True)
class _Break:
    record: Mapping[str, Any]
    turns: Sequence[Turn]
    turn: Turn
    index: int

    @property
    def expected(self) -> list[int]:
        return self.turns[self.turn.number - 2].full_token_ids

    @property
    def actual(self) -> list[int]:
        return self.turn.prompt_token_ids

    def generation_spans(self) -> list[tuple[int, int]]:
        """Where each earlier generation lies in the expected sequence (when it still does)."""
        expected = self.expected
        spans = []
        for earlier in self.turns[: self.turn.number - 1]:
            start = len(earlier.prompt_token_ids)
            end = start + len(earlier.generation_token_ids)
            if end > start and expected[:end] == earlier.full_token_ids:
                spans.append((start, end))
        return spans


def _classify(brk: _Break, text: Decoder) -> tuple[str, dict[str, Any]]:
    expected, actual, index = brk.expected, brk.actual, brk.index
    spans = brk.generation_spans()
    reasoning_texts, history_texts = item_texts(brk.record)
    containing = next(((s, e) for s, e in spans if s <= index < e), None)

    if containing is not None:
        start, end = containing
        if text(actual[start:]).startswith(text(expected[start:])):
            return "retokenized", {"generation_tokens": [start, end]}

    stripped = _reasoning_stripped(
        expected, actual, index, spans, containing, text, reasoning_texts
    )
    if stripped is not None:
        return "reasoning_stripped", stripped

    if containing is not None:
        start, _ = containing
        if canonical_text(text(actual[start:])).startswith(canonical_text(text(expected[start:]))):
            return "rerendered", {"generation_tokens": list(containing)}

    changes = _changes(expected, actual, index)
    for _, i1, i2, j1, j2 in changes:
        if i2 - i1 <= j2 - j1:
            continue
        removed = text(expected[i1:i2])
        # A generation counts as dropped when all of it after the shared prefix is gone.
        dropped_generation = any(i1 <= max(s, index) < e <= i2 for s, e in spans)
        dropped_history = [h for h in history_texts if h in removed]
        if dropped_generation or dropped_history:
            return "history_truncated", {"removed_tokens": [i1, i2]}

    def inside_generation(i1: int, i2: int) -> bool:
        if i1 == i2:
            return any(s < i1 < e for s, e in spans)
        return any(i1 < e and s < i2 for s, e in spans)

    if changes and not any(inside_generation(i1, i2) for _, i1, i2, _, _ in changes):
        return "history_edited", {"changed_tokens": [[i1, i2] for _, i1, i2, _, _ in changes]}
    return "unknown", {}


def _reasoning_stripped(
    expected: Sequence[int],
    actual: Sequence[int],
    index: int,
    spans: Sequence[tuple[int, int]],
    containing: tuple[int, int] | None,
    text: Decoder,
    reasoning_texts: Sequence[str],
) -> dict[str, Any] | None:
    """Evidence that the generation where the prompts part lost its reasoning, else ``None``.

    That generation is the one holding the divergence, or the next one when only a reasoning
    opener the template put in the prompt lies between (``<think>\n`` then the generation).
    """
    candidate = containing
    if candidate is None:
        candidate = next(((s, e) for s, e in spans if s > index), None)
        if candidate is None or not _only_openers(text(expected[index : candidate[0]])):
            return None
    start, end = candidate
    generated = text(expected[start:end])
    reasoning, rest, closing = split_reasoning(generated, reasoning_texts)
    if not reasoning.strip():
        return None
    after = text(actual[min(start, index) :])
    if closing is not None:
        # The slot where the reasoning belongs runs to the template's closing delimiter (none
        # left: the template dropped the whole block); what follows must continue the answer.
        close = after.find(closing)
        slot, following = (
            (after[:close], after[close + len(closing) :]) if close >= 0 else ("", after)
        )
        tail = generated[generated.find(closing) + len(closing) :]
        continues = canonical_text(following).startswith(canonical_text(tail))
    else:
        slot = after[: len(generated)]
        continues = not rest.strip() or canonical_text(rest) in canonical_text(after)
    if reasoning.strip() in slot or not continues:
        return None  # kept, or the whole generation is gone (truncation, not stripping)
    return {"reasoning_chars": len(reasoning.strip()), "generation_tokens": [start, end]}


def _only_openers(between: str) -> bool:
    for opening, _ in REASONING_MARKERS:
        between = between.replace(opening, "")
    return not between.strip()


def _changes(
    expected: Sequence[int], actual: Sequence[int], index: int
) -> list[tuple[str, int, int, int, int]]:
    """Token-level edits from ``expected`` to ``actual`` (after ``index``), in expected coords.

    The trailing insert is dropped: the new prompt rightly appends the new turn's content.
    """
    matcher = SequenceMatcher(None, expected[index:], actual[index:], autojunk=False)
    changes: list[tuple[str, int, int, int, int]] = [
        (tag, i1 + index, i2 + index, j1 + index, j2 + index)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]
    if changes and changes[-1][0] == "insert" and changes[-1][1] == len(expected):
        changes.pop()
    return changes


def _message(cause: str, turn: int, index: int, evidence: Mapping[str, Any]) -> str:
    where = (
        f"turn {turn}'s prompt_token_ids stop extending the previous prompt + generation "
        f"at token {index}"
    )
    return f"{where}: {CAUSES[cause].describe(evidence)}"


def _token_window(brk: _Break, index: int, text: Decoder | None) -> dict[str, Any]:
    """Both sides' ids, pieces and the previous turn's engine log-probs around the break."""
    previous = brk.turns[brk.turn.number - 2]
    start = len(previous.prompt_token_ids)
    return token_window(
        brk.expected,
        brk.actual,
        index,
        piece=(lambda i: text([i])) if text is not None else None,
        special_ids=text.template_ids if text is not None else frozenset(),
        expected_logprobs=dict(enumerate(previous.generation_log_probs, start)),
    )


def diagnose_breaks(
    record: Mapping[str, Any],
    turns: Sequence[Turn],
    breaks: Sequence[int | None],
    tokenizer: Any,
    *,
    at: Location = NOWHERE,
) -> list[Finding]:
    """One ``continuity_break`` finding per break, each created at the record's location."""
    text = Decoder(tokenizer) if tokenizer is not None else None
    findings = []
    for turn, index in zip(turns, breaks, strict=True):
        if index is None:
            continue
        brk = _Break(record, turns, turn, index)
        cause: str = "unknown"
        evidence: dict[str, Any] = {}
        if text is not None:
            try:
                cause, evidence = _classify(brk, text)
                expected, actual = (
                    window(brk.expected, index, text),
                    window(brk.actual, index, text),
                )
            except (ValueError, TypeError, OverflowError, IndexError):
                # Ids the tokenizer cannot decode: report them raw.
                text, cause, evidence = None, "unknown", {}
        if text is None:
            expected, actual = window(brk.expected, index, None), window(brk.actual, index, None)
        evidence = {**evidence, **_token_window(brk, index, text)}
        findings.append(
            at.finding(
                CONTINUITY_BREAK,
                _message(cause, turn.number, index, evidence),
                cause=cause,
                turn=turn.number,
                token_index=index,
                expected=expected,
                actual=actual,
                fix=CAUSES[cause].fix,
                details=evidence,
            )
        )
    return findings


def diagnose_continuity(record: Mapping[str, Any], *, tokenizer: Any = None) -> list[Finding]:
    """One ``continuity_break`` finding per turn whose prompt breaks continuity.

    Records too malformed to have turns give no finding here (``check_record`` reports them).
    """
    try:
        turns = trainable_turns(record)
        breaks = find_breaks(turns)
    except (RolloutFormatError, TypeError):
        return []
    if not any(b is not None for b in breaks):
        return []
    return diagnose_breaks(record, turns, breaks, tokenizer)
