"""The rollout scan's fast path: prove a line clean without parsing what repeats.

Nearly all the bytes of a multi-turn rollout line are token-id arrays, and each turn's
``prompt_token_ids`` repeats the whole history. ``prove_clean`` finds the token-id arrays in the
line's bytes, cuts every prompt but the first out of it, and parses the rest with ``orjson``, the
parser of the exact path, so every byte it parses gets the exact path's verdict (UTF-8, numbers,
nesting). A prompt that was cut out is proven on its bytes: it must start with the previous
prompt's text, a comma and the previous generation's text, at an id boundary. Arrays whose text
holds only digits, commas and spaces are lists of non-negative integer literals, so equal text
is equal ids. Only what the prompt appends after that (the tool output and template tokens) is
parsed. Where the two arrays are formatted differently, the lists are parsed and compared.

It returns ``None`` the moment anything is unusual or would be a finding, and the caller runs
the exact path (``orjson`` + ``inspect_record``) on that line. It never decides a finding: it
only skips the exact path for lines that have none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from gymcheck.checks.records import MAX_ID_WITHOUT_VOCABULARY
from gymcheck.rollout import GENERATION_IDS, GENERATION_LOGPROBS, PROMPT_IDS, TOKEN_FIELDS

RewardRange = tuple[float, float]

_ID_KEYS = (PROMPT_IDS, GENERATION_IDS)
# How NeMo Gym (json.dumps) and orjson write a token key before its array; other spacing
# leaves the array unlocated, and the item's keys then do not match (the exact path decides).
_BEFORE_KEY = {key: (f'"{key}":'.encode(), f'"{key}": '.encode()) for key in TOKEN_FIELDS}
_BEFORE_TOKEN_ARRAY = tuple(before for pair in _BEFORE_KEY.values() for before in pair)
_BEFORE_ANY_ARRAY = (b'":', b'": ')
_SPACE = b" \t\r\n"
# In valid JSON, a value without any of these characters is a non-negative integer (or a list
# of them): no sign, fraction, exponent, string, true/false/null, array or object.
_NOT_AN_ID = tuple(bytes([c]) for c in b'-.eE"tfn[{')
# Without a vocabulary ``sum`` settles the rest: a float (or an id past 64 bits, which orjson
# reads as one) makes it a float, a null, string or array raises TypeError. Booleans and
# negative ids add up like ids, so their characters are looked for.
_SIGN_OR_BOOLEAN = (b"-", b"t", b"f")


@dataclass(frozen=True, slots=True)
class CleanLine:
    """What the exact path counts for a line without findings."""

    turns: int
    reward: float


@dataclass(frozen=True, slots=True)
class _Span:
    """The text between an array's brackets, without surrounding whitespace."""

    start: int
    end: int


class _Unusual(Exception):
    """Anything the fast path does not prove: the exact path decides."""


def prove_clean(
    line: bytes, *, reward_range: RewardRange, vocab_size: int | None
) -> CleanLine | None:
    """``CleanLine`` when ``line`` is a rollout record without any finding, else ``None``."""
    try:
        return _prove(line, reward_range, vocab_size)
    except (_Unusual, orjson.JSONDecodeError, TypeError, ValueError):
        return None


def _prove(line: bytes, reward_range: RewardRange, vocab_size: int | None) -> CleanLine:
    located = _locate(line)
    prompts = [span for key, span in located if key == PROMPT_IDS]
    record = orjson.loads(_cut(line, prompts[1:]))
    items = _turn_items(record)
    spans = _match(items, located)
    reward = _reward(record, reward_range)
    ids = _IdText(line, vocab_size)
    previous: tuple[_Span, _Span] | None = None
    for item, (prompt, generation) in zip(items, spans, strict=True):
        generated = item[GENERATION_IDS]
        _check_logprobs(item[GENERATION_LOGPROBS], len(generated))
        ids.check(generation, generated)
        if previous is None:
            ids.check(prompt, item[PROMPT_IDS])
        else:
            ids.check_appended(prompt, *previous)
        previous = prompt, generation
    return CleanLine(len(items), reward)


def _locate(line: bytes) -> list[tuple[str, _Span]]:
    """Every ``"prompt_token_ids": [...]`` and ``"generation_token_ids": [...]`` in the line,
    in order. It jumps from one ``[`` to the next (memchr), and over token arrays to their
    ``]``, so the numbers are not read here."""
    located = []
    cursor = 0
    while (bracket := line.find(b"[", cursor)) >= 0:
        cursor = bracket + 1
        if not line.endswith(_BEFORE_TOKEN_ARRAY, 0, bracket):
            _refuse_escaped_key(line, bracket)
            continue
        close = line.find(b"]", bracket)
        if close < 0:
            raise _Unusual
        cursor = close + 1
        key = next(k for k, before in _BEFORE_KEY.items() if line.endswith(before, 0, bracket))
        if key != GENERATION_LOGPROBS:
            located.append((key, _trimmed(line, bracket + 1, close)))
    return located


def _refuse_escaped_key(line: bytes, bracket: int) -> None:
    """A token key spelled with escapes (``"prompt\\u005ftoken_ids": [``) would hide its
    array from ``_locate``: ``_Unusual`` for any key with a backslash right before an array."""
    if line.endswith(_BEFORE_ANY_ARRAY, 0, bracket):
        end = line.rfind(b'"', 0, bracket)
        if line.find(b"\\", line.rfind(b'"', 0, end), end) >= 0:
            raise _Unusual


def _skip_space(line: bytes, at: int) -> int:
    while line[at : at + 1] in (b" ", b"\t", b"\r", b"\n"):
        at += 1
    return at


def _trimmed(line: bytes, start: int, end: int) -> _Span:
    if (line[start] not in _SPACE and line[end - 1] not in _SPACE) or start == end:
        return _Span(start, end)
    start = _skip_space(line, start)
    while end > start and line[end - 1] in _SPACE:
        end -= 1
    return _Span(start, end)


def _cut(line: bytes, spans: Sequence[_Span]) -> bytes:
    """The line without the text of ``spans`` (their arrays left empty)."""
    if not spans:
        return line
    pieces = []
    cursor = 0
    for span in spans:
        pieces.append(line[cursor : span.start])
        cursor = span.end
    pieces.append(line[cursor:])
    return b"".join(pieces)


def _turn_items(record: Any) -> list[dict[str, Any]]:
    """The output items that carry token data; ``_Unusual`` where the exact path has a finding."""
    if type(record) is not dict:
        raise _Unusual
    response = record.get("response")
    output = response.get("output") if type(response) is dict else None
    if type(output) is not list:
        raise _Unusual
    if any(type(i) is not dict for i in output):
        raise _Unusual  # an output item that is not an object: schema
    items = [i for i in output if any(k in i for k in TOKEN_FIELDS)]
    if not items:
        raise _Unusual  # no_trainable_output
    for item in items:
        if any(type(item.get(k)) is not list for k in TOKEN_FIELDS):
            raise _Unusual
    return items


def _match(
    items: Sequence[dict[str, Any]], located: Sequence[tuple[str, _Span]]
) -> list[tuple[_Span, _Span]]:
    """Pair each item's id arrays with the located texts. They must be the same keys in the
    same order: a token key elsewhere in the record, or twice in an item, is left to the exact
    path."""
    keys = [k for item in items for k in item if k in _ID_KEYS]
    if keys != [key for key, _ in located]:
        raise _Unusual
    spans = []
    at = 0
    for item in items:
        found = {}
        for key in item:
            if key in _ID_KEYS:
                found[key] = located[at][1]
                at += 1
        spans.append((found[PROMPT_IDS], found[GENERATION_IDS]))
    return spans


def _reward(record: dict[str, Any], reward_range: RewardRange) -> float:
    reward = record.get("reward")
    if isinstance(reward, bool) or not isinstance(reward, int | float) or not math.isfinite(reward):
        raise _Unusual  # reward_invalid
    low, high = reward_range
    if not low <= reward <= high:
        raise _Unusual
    return float(reward)


def _check_logprobs(logprobs: list[Any], count: int) -> None:
    if not count or len(logprobs) != count:
        raise _Unusual  # empty_generation, logprobs_length_mismatch
    # orjson reads no NaN or infinity, so the exact path's finite-sum test cannot fail here
    # (a sum that overflows is no finding either); max raises TypeError on a null or string.
    highest = max(logprobs)
    if highest > 0 or (highest == 0 and any(type(v) not in (int, float) for v in logprobs)):
        raise _Unusual  # a positive log-prob, or false among zeros


class _IdText:
    """Checks id arrays: their text for what is not a non-negative integer, their values for
    what is past the vocabulary (or the int32 range without one)."""

    def __init__(self, line: bytes, vocab_size: int | None) -> None:
        self.line = line
        self.vocab_size = vocab_size
        self.refused = _NOT_AN_ID if vocab_size is not None else _SIGN_OR_BOOLEAN

    def check(self, span: _Span, ids: list[Any]) -> None:
        for char in self.refused:
            if self.line.find(char, span.start, span.end) >= 0:
                raise _Unusual  # schema, or token_id_out_of_range for a negative id
        if not ids:
            return
        if self.vocab_size is not None:
            highest = max(ids)
            if type(highest) is not int or highest >= self.vocab_size:
                raise _Unusual  # token_id_out_of_range
            return
        # Without a vocabulary ids must fit an int32. The ids are non-negative, so a sum in
        # range bounds each of them (one pass, faster than max); orjson reads an id past 64
        # bits as a float, which makes the sum a float.
        total = sum(ids)
        if type(total) is not int or (
            total > MAX_ID_WITHOUT_VOCABULARY and max(ids) > MAX_ID_WITHOUT_VOCABULARY
        ):
            raise _Unusual

    def parse(self, span: _Span) -> list[int]:
        return list(orjson.loads(b"[" + self.line[span.start : span.end] + b"]"))

    def check_appended(self, prompt: _Span, head: _Span, generation: _Span) -> None:
        """``prompt`` must extend ``head`` + ``generation``: proven on the bytes, then the ids
        it appends are checked."""
        line = self.line
        view = memoryview(line)
        at = prompt.start
        if head.end > head.start:
            if not line.startswith(view[head.start : head.end], at):
                return self._check_appended_parsed(prompt, head, generation)
            at = _skip_space(line, at + head.end - head.start)
            if line[at : at + 1] != b",":
                return self._check_appended_parsed(prompt, head, generation)
            at = _skip_space(line, at + 1)
        if not line.startswith(view[generation.start : generation.end], at):
            return self._check_appended_parsed(prompt, head, generation)
        at = _skip_space(line, at + generation.end - generation.start)
        if at >= prompt.end:
            return None
        if line[at : at + 1] != b",":
            return self._check_appended_parsed(prompt, head, generation)
        tail = _Span(at + 1, prompt.end)
        appended = self.parse(tail)
        if not appended:
            raise _Unusual  # a trailing comma: not JSON
        self.check(tail, appended)
        return None

    def _check_appended_parsed(self, prompt: _Span, head: _Span, generation: _Span) -> None:
        """The bytes differ (another writer's spacing, or a break): compare the parsed lists."""
        ids, head_ids, generated = self.parse(prompt), self.parse(head), self.parse(generation)
        split = len(head_ids)
        if ids[:split] != head_ids or ids[split : split + len(generated)] != generated:
            raise _Unusual  # continuity_break: the exact path diagnoses it
        self.check(prompt, ids)
