"""Token arrays found and validated on the bytes of a JSON line, without parsing them.

``array_spans(buf, prefixes)`` finds every array that directly follows one of ``prefixes``
(say ``b'"prompt_token_ids": '``): it jumps from each ``[`` to the next ``]``, so the numbers
are not read, and gives ``[start, end, ...]``, the text between each pair of brackets without
its surrounding whitespace (None when a ``[`` found that way has no ``]``). An array that holds
a ``]`` of its own (inside a string, or a nested array) is cut there; its text then fails the
validators.

``id_array(buf, start, end, limit)`` and ``logprob_array(buf, start, end)`` read the text
between an array's brackets, ``buf[start:end]``, and answer how many values it holds, or -1
for anything they do not prove. What they accept, orjson (the exact path's parser) reads as
exactly that many values, each one that the record checks have nothing to say about:

- ids: JSON non-negative integers (no sign, fraction or exponent, no leading zero), each below
  ``limit`` (at most 2**32, so a value always fits 64 bits while it is read).
- log-probs: JSON numbers that are signed (``-``) or zero (``0``, ``0.0``, ``0e-3``), so every
  value is <= 0; an exponent only with ``-``, and a magnitude below 10**15 (the integer
  part's digits plus the exponent at most 15), so every value is a finite double, far from
  where orjson would refuse one as infinity. A positive literal that would underflow to
  zero (``1e-400``) is refused all the same: the text decides. Fractions and negative
  exponents may be of any length (orjson reads them, rounding towards zero at worst).

Values may be separated by JSON whitespace (space, tab, LF, CR). An empty span is 0 values;
a trailing or doubled comma, any other character (``NaN``, ``true``, a string, a nested
array, a non-ASCII byte) or a cut-off number is -1, and the exact path decides.

The three functions come from the C extension ``gymcheck._bytescan`` when it was built at install
time (``COMPILED`` is true), else from this module's pure-Python fallback, which gives the
same answer for every input: byte passes and ``orjson`` on the span.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from types import ModuleType

import orjson

RULES = 2
"""The version of the rules; ``gymcheck/_bytescan.c`` defines the same."""
MAX_ID_LIMIT = 2**32
MAX_MAGNITUDE_DIGITS = 15
EXPONENT_CAP = 10**9
"""Exponents are read up to this; one beyond counts as this (which only refuses more)."""
_SPACE = b" \t\r\n"
# Below this, a value (as orjson rounds it) proves the magnitude rule; above it, the literals
# are read one by one.
_SAFE_VALUE = -(10.0 ** (MAX_MAGNITUDE_DIGITS - 1))
_ID_TEXT = b"0123456789," + _SPACE
_LOGPROB_TEXT = b"0123456789,-.eE"

IdArray = Callable[[bytes, int, int, int], int]
LogprobArray = Callable[[bytes, int, int], int]
ArraySpans = Callable[[bytes, tuple[bytes, ...]], list[int] | None]


def python_array_spans(buf: bytes, prefixes: tuple[bytes, ...]) -> list[int] | None:
    """``array_spans`` in Python: ``bytes.find`` (memchr) from bracket to bracket."""
    if not isinstance(buf, bytes):
        raise TypeError(f"buf must be bytes, not {type(buf).__name__}")
    if not isinstance(prefixes, tuple) or not all(isinstance(p, bytes) for p in prefixes):
        raise TypeError("prefixes must be a tuple of bytes")
    spans: list[int] = []
    cursor = 0
    while (bracket := buf.find(b"[", cursor)) >= 0:
        cursor = bracket + 1
        if not buf.endswith(prefixes, 0, bracket):
            continue
        close = buf.find(b"]", cursor)
        if close < 0:
            return None
        spans += _trimmed(buf, cursor, close)
        cursor = close + 1
    return spans


def _trimmed(buf: bytes, start: int, end: int) -> tuple[int, int]:
    while start < end and buf[start] in _SPACE:
        start += 1
    while end > start and buf[end - 1] in _SPACE:
        end -= 1
    return start, end


def _span(buf: bytes, start: int, end: int) -> bytes:
    if not isinstance(buf, bytes):
        raise TypeError(f"buf must be bytes, not {type(buf).__name__}")
    start, end = operator.index(start), operator.index(end)
    if not 0 <= start <= end <= len(buf):
        raise ValueError(f"span [{start}, {end}) is not inside {len(buf)} bytes")
    return buf[start:end]


def _parsed(text: bytes) -> list[int | float] | None:
    try:
        values: list[int | float] = orjson.loads(b"[" + text + b"]")
    except orjson.JSONDecodeError:
        return None
    return values


def python_id_array(buf: bytes, start: int, end: int, limit: int) -> int:
    """``id_array`` in Python: only digits, commas and whitespace, then orjson for the
    grammar (it refuses leading zeros and stray commas) and the bound: a sum below it bounds
    every (non-negative) id in one pass, faster than ``max``."""
    text = _span(buf, start, end)
    if not 0 <= operator.index(limit) <= MAX_ID_LIMIT:
        raise ValueError("limit must be in [0, 2**32]")
    if text.translate(None, _ID_TEXT):
        return -1
    values = _parsed(text)
    if values is None or (values and sum(values) >= limit and max(values) >= limit):
        return -1
    return len(values)


def python_logprob_array(buf: bytes, start: int, end: int) -> int:
    """``logprob_array`` in Python: the characters and exponent signs by byte passes, orjson
    for the grammar; then, where the signs and values do not settle it at once (an unsigned
    literal, a value near the magnitude bound, text too long for the exponent cap to be
    sure), the literals one by one."""
    text = _span(buf, start, end)
    compact = text.translate(None, _SPACE)
    if compact.translate(None, _LOGPROB_TEXT):
        return -1
    exponents = compact.count(b"e") + compact.count(b"E")
    if exponents and compact.count(b"e-") + compact.count(b"E-") != exponents:
        return -1  # a positive exponent
    values = _parsed(text)
    if values is None:
        return -1
    signed = compact.count(b"-") - exponents
    if (
        signed == len(values)
        and len(compact) < EXPONENT_CAP
        and min(values, default=0) > _SAFE_VALUE
    ):
        return len(values)
    # orjson accepted the text, so ``compact`` is literals joined by single commas.
    if not all(map(_literal_passes, compact.split(b","))):
        return -1
    return len(values)


def _literal_passes(literal: bytes) -> bool:
    """The C extension's rules for one literal: signed or zero, magnitude below 10**15."""
    mantissa, _, exponent = literal.replace(b"E", b"e").partition(b"e")
    if not mantissa.startswith(b"-") and mantissa.strip(b"0."):
        return False
    integer = mantissa.lstrip(b"-").partition(b".")[0]
    return len(integer) - _exponent_value(exponent) <= MAX_MAGNITUDE_DIGITS


def _exponent_value(exponent: bytes) -> int:
    """The digits after ``e-`` (``b""``: no exponent), at most ``EXPONENT_CAP``."""
    digits = exponent.lstrip(b"-").lstrip(b"0")
    if len(digits) > len(str(EXPONENT_CAP)):  # int() refuses very long digit strings
        return EXPONENT_CAP
    return min(int(digits or b"0"), EXPONENT_CAP)


def _extension() -> ModuleType | None:
    """The C extension, if it was built from these sources' rules."""
    try:
        from gymcheck import _bytescan
    except ImportError:  # built without a compiler: the same answers, in Python
        return None
    # An editable install keeps a build from older sources beside newer ones until rebuilt.
    return _bytescan if getattr(_bytescan, "RULES", None) == RULES else None


_compiled = _extension()
COMPILED = _compiled is not None
array_spans: ArraySpans = _compiled.array_spans if _compiled else python_array_spans
id_array: IdArray = _compiled.id_array if _compiled else python_id_array
logprob_array: LogprobArray = _compiled.logprob_array if _compiled else python_logprob_array
