"""Token continuity across the turns of a rollout, and the diagnosis of every break.

Each trainable item's ``prompt_token_ids`` must start with the previous item's
``prompt_token_ids + generation_token_ids``. Checking that is two list-slice comparisons per
turn; only a turn that breaks it gets diagnosed. The diagnosis decodes both sides and compares
text and token spans to name one cause (DESIGN.md section 4), tried in this order:

``retokenized``         the previous generation's text is there, as other ids
``reasoning_stripped``  the reasoning of an earlier generation is gone, the rest of it is there
``rerendered``          the previous generation is there as another rendering of the same
                        content (same JSON, same text modulo whitespace)
``history_truncated``   a whole earlier generation or tool result is missing
``history_edited``      only tokens outside earlier generations changed
``unknown``             none of the above, or no tokenizer to decode with
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from gymcheck.errors import RolloutFormatError
from gymcheck.report import CheckResult, Finding, Status, Step
from gymcheck.rollout import Turn, first_divergence, trainable_turns

CONTINUITY_BREAK = "continuity_break"
CHECK_ID = "token_continuity"

CAUSES = (
    "retokenized",
    "reasoning_stripped",
    "rerendered",
    "history_truncated",
    "history_edited",
    "unknown",
)

# Reasoning delimiters that chat templates put around a model's thinking.
REASONING_MARKERS: tuple[tuple[str, str], ...] = (
    ("<think>", "</think>"),
    ("[THINK]", "[/THINK]"),
    ("<reasoning>", "</reasoning>"),
)

WINDOW_BEFORE = 8
WINDOW_AFTER = 24

_TITO = (
    "token-in-token-out: send the previous turn's token ids back (prompt_token_ids + "
    "generation_token_ids on the assistant message), as NeMo RL's required_prefix_token_ids "
    "does, so the server splices them into the next prompt instead of re-tokenizing text"
)

FIXES: dict[str, str] = {
    "retokenized": _TITO,
    "reasoning_stripped": (
        "keep earlier reasoning in the history: " + _TITO + "; or render with a chat template "
        "that keeps past <think> blocks (Qwen3's default template drops them)"
    ),
    "rerendered": (
        "the prompt holds text the model never generated (a parsed and re-serialized tool call, "
        "normalized whitespace): " + _TITO + " (NeMo Gym's vllm_model_for_training)"
    ),
    "history_truncated": (
        "do not drop or summarize earlier turns inside one trainable episode; if the context "
        "must be cut, end the rollout there and start a new one"
    ),
    "history_edited": (
        "render every turn with the same system prompt, tool definitions and chat template; the "
        "prompt must only grow by appending (run `gymcheck tokenizer` to test the template)"
    ),
    "unknown": (
        "compare the expected and actual ids around the token index; pass --tokenizer to get "
        "the decoded text and a named cause"
    ),
}


# --- the fast check -----------------------------------------------------------------------


def find_breaks(turns: Sequence[Turn], raw: bytes | None = None) -> list[int | None]:
    """Per turn, the first index where its prompt stops extending the previous turn.

    ``raw``, the record's JSON line, allows a faster proof of continuity: byte-identical array
    text parses to identical ids. Any doubt falls back to comparing the lists.
    """
    breaks: list[int | None] = [None] * len(turns)
    proven = _contiguous_in_json(turns, raw) if raw is not None and len(turns) > 1 else None
    for k in range(1, len(turns)):
        if proven is not None and proven[k]:
            continue
        previous, prompt = turns[k - 1], turns[k].prompt_token_ids
        head, generated = previous.prompt_token_ids, previous.generation_token_ids
        split = len(head)
        end = split + len(generated)
        if len(prompt) >= end and prompt[split:end] == generated and prompt[:split] == head:
            continue
        breaks[k] = first_divergence(previous.full_token_ids, prompt)
    return breaks


_PROMPT_KEY = b'"prompt_token_ids"'
_GENERATION_KEY = b'"generation_token_ids"'


_JSON_SPACE = b" \t\r\n"


def _json_arrays(
    raw: bytes, key: bytes, lists: Sequence[Sequence[int]]
) -> list[tuple[int, int]] | None:
    """Where the inner text of each ``key: [...]`` array lies in ``raw``, trimmed of spaces,
    if the arrays map 1:1 onto ``lists``. Offsets, not copies: the arrays are most of a line."""
    spans: list[tuple[int, int]] = []
    position = 0
    while (found := raw.find(key, position)) >= 0:
        start = raw.find(b"[", found + len(key))
        if start < 0 or raw[found + len(key) : start].strip() != b":":
            return None
        end = raw.find(b"]", start)  # arrays of ids hold no nested brackets
        if end < 0:
            return None
        inner_start, inner_end = start + 1, end
        while inner_start < inner_end and raw[inner_start] in _JSON_SPACE:
            inner_start += 1
        while inner_end > inner_start and raw[inner_end - 1] in _JSON_SPACE:
            inner_end -= 1
        spans.append((inner_start, inner_end))
        position = end
    # Each trainable item holds the key once; any other occurrence (a nested copy, a duplicate
    # key) makes the counts differ, and the caller falls back to comparing lists.
    return spans if len(spans) == len(lists) else None


def _contiguous_in_json(turns: Sequence[Turn], raw: bytes) -> list[bool] | None:
    prompts = _json_arrays(raw, _PROMPT_KEY, [t.prompt_token_ids for t in turns])
    generations = _json_arrays(raw, _GENERATION_KEY, [t.generation_token_ids for t in turns])
    if prompts is None or generations is None:
        return None
    proven = [False] * len(turns)
    for k in range(1, len(turns)):
        (head_start, head_end), (gen_start, gen_end) = prompts[k - 1], generations[k - 1]
        prompt_start, prompt_end = prompts[k]
        if head_start == head_end or gen_start == gen_end:
            continue
        head_length = head_end - head_start
        if not raw.startswith(raw[head_start:head_end], prompt_start, prompt_end):
            continue
        generated = raw[gen_start:gen_end]
        for separator in (b",", b", "):
            at = prompt_start + head_length
            if not raw.startswith(separator, at, prompt_end):
                continue
            at += len(separator)
            if not raw.startswith(generated, at, prompt_end):
                continue
            after = at + len(generated)
            # The generation must end at an id boundary in the new prompt.
            if after == prompt_end or raw[after] in b", \t\r\n":
                proven[k] = True
                break
    return proven


# --- decoding -------------------------------------------------------------------------------


class _Text:
    """The tokenizer's view needed for a diagnosis: decode, and which ids are template tokens."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        added = getattr(tokenizer, "added_tokens_decoder", None) or {}
        self.template_ids = {int(i) for i in added}

    def __call__(self, ids: Sequence[int]) -> str:
        return str(
            self.tokenizer.decode(
                list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
        )


def _window(ids: Sequence[int], index: int, text: _Text | None) -> str:
    low, high = max(0, index - WINDOW_BEFORE), min(len(ids), index + WINDOW_AFTER)
    if text is None:
        return f"ids[{low}:{high}] = {list(ids[low:high])}"
    body = text(ids[low:high])
    return ("…" if low else "") + body + ("…" if high < len(ids) else "")


# --- text comparison helpers ----------------------------------------------------------------

_JSON = json.JSONDecoder()


def canonical_text(text: str) -> str:
    """``text`` with every JSON value in canonical form and all other whitespace removed.

    Two renderings of the same content (a tool call re-serialized, whitespace normalized) give
    the same canonical text.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in "{[":
            try:
                value, end = _JSON.raw_decode(text, i)
            except ValueError:
                pass
            else:
                out.append(
                    json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                )
                i = end
                continue
        if not char.isspace():
            out.append(char)
        i += 1
    return "".join(out)


def split_reasoning(
    generated: str, reasoning_texts: Sequence[str] = ()
) -> tuple[str, str, str | None]:
    """``(reasoning, rest, closing marker)`` of a generation's text.

    ``reasoning`` is ``""`` when there is none; the marker is ``None`` when the reasoning was
    found through a ``reasoning`` item rather than delimiters.

    The reasoning is what lies between a template's reasoning delimiters (the opening one may
    be in the prompt, as with templates that start the generation inside ``<think>``), or a
    ``reasoning`` item's text that the generation holds verbatim.
    """
    for opening, closing in REASONING_MARKERS:
        close = generated.find(closing)
        if close < 0:
            continue
        open_ = generated.rfind(opening, 0, close)
        start = open_ + len(opening) if open_ >= 0 else 0
        head = generated[:open_] if open_ >= 0 else ""
        return generated[start:close], head + generated[close + len(closing) :], closing
    for reasoning in reasoning_texts:
        position = generated.find(reasoning) if reasoning.strip() else -1
        if position >= 0:
            rest = generated[:position] + generated[position + len(reasoning) :]
            return reasoning, rest, None
    return "", generated, None


def _item_texts(record: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(reasoning texts, history texts: tool results and non-system input messages)."""
    reasoning: list[str] = []
    history: list[str] = []
    response = record.get("response")
    output = response.get("output") if isinstance(response, Mapping) else None
    for item in output if isinstance(output, list) else []:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "reasoning":
            for key in ("summary", "content"):
                reasoning += _part_texts(item.get(key))
        elif item.get("type") == "function_call_output" and isinstance(item.get("output"), str):
            history.append(item["output"])
    params = record.get("responses_create_params")
    inputs = params.get("input") if isinstance(params, Mapping) else None
    for message in inputs if isinstance(inputs, list) else []:
        if isinstance(message, Mapping) and message.get("role") not in ("system", "developer"):
            history += _part_texts(message.get("content"))
            if isinstance(message.get("output"), str):
                history.append(message["output"])
    return reasoning, [h.strip() for h in history if h.strip()]


def _part_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        ]
    return []


# --- the diagnosis --------------------------------------------------------------------------


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


def _classify(brk: _Break, text: _Text) -> tuple[str, dict[str, Any]]:
    expected, actual, index = brk.expected, brk.actual, brk.index
    spans = brk.generation_spans()
    reasoning_texts, history_texts = _item_texts(brk.record)
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
    text: _Text,
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
    reasons = {
        "retokenized": "the previous generation's text is there, but re-tokenized into "
        "different ids",
        "reasoning_stripped": f"the earlier turn's reasoning ({evidence.get('reasoning_chars')} "
        "chars) is missing from the prompt; the chat template removed or "
        "emptied it",
        "rerendered": "the previous generation was replaced by another rendering of the same "
        "content (e.g. a tool call parsed and re-serialized), text the model "
        "never generated",
        "history_truncated": "earlier history (a whole generation or tool result) is missing "
        "from the prompt",
        "history_edited": "tokens outside earlier generations changed (system prompt, tool "
        "definitions or template whitespace)",
        "unknown": "the cause could not be determined",
    }
    return f"{where}: {reasons[cause]}"


def _diagnose(
    record: Mapping[str, Any], turns: Sequence[Turn], breaks: Sequence[int | None], tokenizer: Any
) -> list[Finding]:
    text = _Text(tokenizer) if tokenizer is not None else None
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
                    _window(brk.expected, index, text),
                    _window(brk.actual, index, text),
                )
            except (ValueError, TypeError, OverflowError, IndexError):
                # Ids the tokenizer cannot decode: report them raw.
                text, cause, evidence = None, "unknown", {}
        if text is None:
            expected, actual = _window(brk.expected, index, None), _window(brk.actual, index, None)
        low = max(0, index - WINDOW_BEFORE)
        evidence = {
            **evidence,
            "expected_ids": brk.expected[low : index + WINDOW_AFTER],
            "actual_ids": brk.actual[low : index + WINDOW_AFTER],
            "window_start": low,
        }
        findings.append(
            Finding(
                CONTINUITY_BREAK,
                _message(cause, turn.number, index, evidence),
                cause=cause,
                turn=turn.number,
                token_index=index,
                expected=expected,
                actual=actual,
                fix=FIXES[cause],
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
    return _diagnose(record, turns, breaks, tokenizer)


# --- the check ------------------------------------------------------------------------------


@dataclass(slots=True)
class ContinuityTally:
    """Continuity over many rollouts, built one rollout at a time; tallies merge."""

    rollouts: int = 0
    turns: int = 0
    broken_rollouts: int = 0
    breaks: int = 0
    causes: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def add(self, turns: Sequence[Turn], findings: Sequence[Finding]) -> None:
        self.rollouts += 1
        self.turns += len(turns)
        if findings:
            self.broken_rollouts += 1
            self.breaks += len(findings)
            self.causes.update(f.cause or "unknown" for f in findings)
            self.findings.extend(findings)

    def merge(self, other: ContinuityTally) -> None:
        self.rollouts += other.rollouts
        self.turns += other.turns
        self.broken_rollouts += other.broken_rollouts
        self.breaks += other.breaks
        self.causes.update(other.causes)
        self.findings.extend(other.findings)

    def result(self) -> CheckResult:
        details: dict[str, Any] = {
            "rollouts": self.rollouts,
            "turns": self.turns,
            "rollouts_broken": self.broken_rollouts,
            "breaks": self.breaks,
            "causes": dict(sorted(self.causes.items())),
        }
        if self.rollouts == 0:
            return CheckResult(
                CHECK_ID, Status.SKIP, "no rollout with token data to check", details=details
            )
        if not self.breaks:
            line = f"Token continuity validated across {self.turns} turns"
            return CheckResult(
                CHECK_ID,
                Status.PASS,
                line,
                details=details,
                steps=[Step("continuity", Status.PASS, line)],
            )
        causes = ", ".join(f"{cause} ×{n}" for cause, n in self.causes.most_common())
        summary = f"{self.broken_rollouts} of {self.rollouts} rollouts break continuity"
        step = f"Token continuity broken at {self.breaks} of {self.turns} turns ({causes})"
        return CheckResult(
            CHECK_ID,
            Status.FAIL,
            summary,
            details=details,
            steps=[Step("continuity", Status.FAIL, step)],
            findings=list(self.findings),
        )


def check_token_continuity(
    records: Iterable[Mapping[str, Any]], *, tokenizer: Any = None
) -> CheckResult:
    """The ``token_continuity`` check over ``records``; findings carry ``rollout_index``."""
    tally = ContinuityTally()
    for position, record in enumerate(records):
        try:
            turns = trainable_turns(record)
            breaks = find_breaks(turns)
        except (RolloutFormatError, TypeError):
            continue
        if not turns:
            continue
        findings = []
        if any(b is not None for b in breaks):
            findings = _diagnose(record, turns, breaks, tokenizer)
            for finding in findings:
                finding.rollout_index = position
        tally.add(turns, findings)
    return tally.result()
