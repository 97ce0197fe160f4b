"""The rollout scan's fast path: prove a line clean without parsing its token arrays.

Nearly all the bytes of a multi-turn rollout line are token arrays, and each turn's
``prompt_token_ids`` repeats the whole history. ``prove_clean`` finds every token array in the
line's bytes and replaces its text by a marker, so ``orjson`` (the exact path's parser) parses
only the skeleton around them and gives every byte of it the exact path's verdict (UTF-8,
numbers, nesting, the record's shape). The arrays' text is validated on the bytes by
``gymcheck.bytescan`` (the C extension, or its pure-Python fallback): ids below the bound,
log-probs that are finite and <= 0, and their counts. The first prompt is validated whole;
each later prompt must start with the previous prompt's text, a comma and the previous
generation's text, at an id boundary (equal id text is equal ids), and only what it appends
(the tool output and template tokens) is validated. Where two arrays are formatted
differently, the lists are parsed and compared.

Each marker holds the index of the array it replaced, so after the parse each item's token
fields name exactly the text the exact path would read there: a token key spelled with
escapes, spaced differently, repeated, or found outside ``response.output`` leaves a field
without its marker (or a marker without its field), and the line is not proven.

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

from gymcheck import bytescan
from gymcheck.checks.records import MAX_ID_WITHOUT_VOCABULARY
from gymcheck.errors import GymcheckError
from gymcheck.rollout import GENERATION_IDS, GENERATION_LOGPROBS, PROMPT_IDS, TOKEN_FIELDS

RewardRange = tuple[float, float]

_TOKEN_KEYS = frozenset(TOKEN_FIELDS)
# How NeMo Gym (json.dumps) and orjson write a token key before its array. An array written
# otherwise keeps its text in the skeleton, and its field then holds no marker.
_BEFORE_TOKEN_ARRAY = tuple(
    f'"{key}":{space}'.encode() for key in TOKEN_FIELDS for space in ("", " ")
)
# A marker is ``"\u0000",INDEX``: the only JSON text of the string "\x00" is ``"\u0000"``, so
# a skeleton that holds it exactly once per marker holds no other.
_MARK = b'"\\u0000"'
_MARKER = _MARK + b",%d"
_MARK_VALUE = "\x00"


@dataclass(frozen=True, slots=True)
class CleanLine:
    """What the exact path counts for a line without findings."""

    turns: int
    reward: float


_Span = tuple[int, int]
"""``(start, end)`` of the text between an array's brackets, without surrounding whitespace."""


@dataclass(frozen=True, slots=True)
class _Turn:
    prompt: _Span
    generation: _Span
    logprobs: _Span


class _Unusual(GymcheckError):
    """Anything the fast path does not prove: the exact path decides (never raised out of
    ``prove_clean``)."""


def prove_clean(
    line: bytes, *, reward_range: RewardRange, vocab_size: int | None
) -> CleanLine | None:
    """``CleanLine`` when ``line`` is a rollout record without any finding, else ``None``."""
    try:
        return _prove(line, reward_range, vocab_size)
    except (_Unusual, orjson.JSONDecodeError):
        return None


def _prove(line: bytes, reward_range: RewardRange, vocab_size: int | None) -> CleanLine:
    arrays = _locate(line)
    record = orjson.loads(_skeleton(line, arrays))
    items = _turn_items(record)
    turns = _match(items, arrays)
    reward = _reward(record, reward_range)
    ids = _IdText(line, _id_limit(vocab_size))
    previous: _Turn | None = None
    for turn in turns:
        generated = ids.count(turn.generation)
        if generated <= 0 or bytescan.logprob_array(line, *turn.logprobs) != generated:
            raise _Unusual  # empty_generation, logprobs_length_mismatch or logprobs_invalid
        if previous is None:
            ids.count(turn.prompt)
        else:
            ids.check_appended(turn.prompt, previous.prompt, previous.generation)
        previous = turn
    return CleanLine(len(turns), reward)


def _id_limit(vocab_size: int | None) -> int:
    """Ids stay below the vocabulary, or fit an int32 without one. A vocabulary past
    ``bytescan.MAX_ID_LIMIT`` is bounded there: an id beyond goes to the exact path."""
    if vocab_size is None:
        return MAX_ID_WITHOUT_VOCABULARY + 1
    return max(0, min(vocab_size, bytescan.MAX_ID_LIMIT))


def _locate(line: bytes) -> list[_Span]:
    """The text of every array after a token key, in order (``bytescan.array_spans``)."""
    flat = bytescan.array_spans(line, _BEFORE_TOKEN_ARRAY)
    if flat is None:
        raise _Unusual  # an array that is not closed: not JSON
    return list(zip(flat[::2], flat[1::2], strict=True))


def _skip_space(line: bytes, at: int) -> int:
    while line[at : at + 1] in (b" ", b"\t", b"\r", b"\n"):
        at += 1
    return at


def _skeleton(line: bytes, arrays: Sequence[_Span]) -> bytes:
    """The line with each array's text replaced by its marker; ``_Unusual`` when the line
    holds marker text of its own."""
    pieces: list[bytes] = []
    cursor = 0
    for index, (start, end) in enumerate(arrays):
        pieces += (line[cursor:start], _MARKER % index)
        cursor = end
    pieces.append(line[cursor:])
    skeleton = b"".join(pieces)
    if skeleton.count(_MARK) != len(arrays):
        raise _Unusual
    return skeleton


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
    items = [i for i in output if not _TOKEN_KEYS.isdisjoint(i)]
    if not items:
        raise _Unusual  # no_trainable_output
    return items


def _match(items: Sequence[dict[str, Any]], arrays: Sequence[_Span]) -> list[_Turn]:
    """Each item's three token fields, as the located arrays their markers name. Every field
    must hold a marker, and every marker must be in a field: then each field's text is the
    text the exact path parses there, and every located array gets validated."""
    claimed = [False] * len(arrays)

    def span(item: dict[str, Any], key: str) -> _Span:
        value = item.get(key)
        if type(value) is not list or len(value) != 2 or value[0] != _MARK_VALUE:
            raise _Unusual  # missing, not a list, or text the skeleton kept
        index = value[1]
        if type(index) is not int or not 0 <= index < len(arrays) or claimed[index]:
            raise _Unusual
        claimed[index] = True
        return arrays[index]

    turns = [
        _Turn(span(i, PROMPT_IDS), span(i, GENERATION_IDS), span(i, GENERATION_LOGPROBS))
        for i in items
    ]
    if not all(claimed):
        raise _Unusual  # a token array outside the items, or under a repeated key
    return turns


def _reward(record: dict[str, Any], reward_range: RewardRange) -> float:
    reward = record.get("reward")
    if isinstance(reward, bool) or not isinstance(reward, int | float) or not math.isfinite(reward):
        raise _Unusual  # reward_invalid
    low, high = reward_range
    if not low <= reward <= high:
        raise _Unusual
    return float(reward)


class _IdText:
    """Validates id arrays on the line's bytes, and proves later prompts extend earlier ones."""

    def __init__(self, line: bytes, limit: int) -> None:
        self.line = line
        self.limit = limit

    def count(self, span: _Span) -> int:
        """The ids in ``span``; ``_Unusual`` for one that is not a non-negative integer below
        the bound (schema, token_id_out_of_range), or text that is not JSON."""
        count = bytescan.id_array(self.line, *span, self.limit)
        if count < 0:
            raise _Unusual
        return count

    def check_appended(self, prompt: _Span, head: _Span, generation: _Span) -> None:
        """``prompt`` must extend ``head`` + ``generation``: proven on the bytes, then the ids
        it appends are validated."""
        line = self.line
        view = memoryview(line)
        at, end = prompt
        # A match cannot run past the prompt's ``]``: the texts compared hold none.
        if head[1] > head[0]:
            if not line.startswith(view[head[0] : head[1]], at):
                return self._check_appended_parsed(prompt, head, generation)
            at = _skip_space(line, at + head[1] - head[0])
            if line[at : at + 1] != b",":
                return self._check_appended_parsed(prompt, head, generation)
            at = _skip_space(line, at + 1)
        if not line.startswith(view[generation[0] : generation[1]], at):
            return self._check_appended_parsed(prompt, head, generation)
        at = _skip_space(line, at + generation[1] - generation[0])
        if at >= end:
            return None
        if line[at : at + 1] != b",":
            return self._check_appended_parsed(prompt, head, generation)
        if self.count((at + 1, end)) == 0:
            raise _Unusual  # a trailing comma: not JSON
        return None

    def _check_appended_parsed(self, prompt: _Span, head: _Span, generation: _Span) -> None:
        """The bytes differ (another writer's spacing, or a break): validate the prompt, then
        compare the parsed lists."""
        self.count(prompt)
        ids, head_ids, generated = self._parse(prompt), self._parse(head), self._parse(generation)
        split = len(head_ids)
        if ids[:split] != head_ids or ids[split : split + len(generated)] != generated:
            raise _Unusual  # continuity_break: the exact path diagnoses it

    def _parse(self, span: _Span) -> list[int]:
        start, end = span
        return list(orjson.loads(b"[" + self.line[start:end] + b"]"))
