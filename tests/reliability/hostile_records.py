"""Rollout lines for the hostile-file tests, written as JSON text so that literals orjson
refuses (NaN, Infinity, integers past 64 bits) can be planted exactly where a writer puts them."""

from __future__ import annotations

from typing import Any

import orjson
from rollout_builders import make_record

FIRST_PROMPT = list(range(1, 11))
FIRST_GENERATION = [11, 12, 13]
SECOND_PROMPT = [*FIRST_PROMPT, *FIRST_GENERATION, 20, 21]
SECOND_GENERATION = [30, 31, 32, 33]


def clean_record(**changes: Any) -> dict[str, Any]:
    """A clean two-turn record with small synthetic ids; no tokenizer needed to check it."""
    record = make_record(
        [
            (list(FIRST_PROMPT), list(FIRST_GENERATION)),
            (list(SECOND_PROMPT), list(SECOND_GENERATION)),
        ]
    )
    record.update(changes)
    return record


def line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record) + b"\n"


def with_literal(record: dict[str, Any], placeholder: str, literal: str) -> bytes:
    """The record's JSON line with the string ``placeholder`` replaced by a raw literal."""
    text = orjson.dumps(record).decode()
    quoted = orjson.dumps(placeholder).decode()
    assert quoted in text, placeholder
    return (text.replace(quoted, literal) + "\n").encode()


def second_item(record: dict[str, Any]) -> dict[str, Any]:
    """The output item that carries the second turn's token fields."""
    return record["response"]["output"][2]
