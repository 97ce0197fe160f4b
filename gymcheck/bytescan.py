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
  value is <= 0; an exponent only with ``-`` and a literal of at most 40 bytes, so every value
  is a finite double, far from where orjson would refuse one as infinity. A positive literal
  that would underflow to zero (``1e-400``) is refused all the same: the text decides.

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

import orjson

MAX_ID_LIMIT = 2**32
MAX_NUMBER_BYTES = 40
_SPACE = b" \t\r\n"
_ID_TEXT = b"0123456789," + _SPACE
_LOGPROB_TEXT = b"0123456789,-.eE"

IdArray = Callable[[bytes, int, int, int], int]
LogprobArray = Callable[[bytes, int, int], int]
ArraySpans = Callable[[bytes, tuple[bytes, ...]], list[int] | None]


def python_array_spans(buf: bytes, prefixes: tuple[bytes, ...]) -> list[int] | None:
    """``array_spans`` in Python: ``bytes.find`` (memchr) from bracket to bracket."""
    if not isinstance(buf, bytes):
        raise TypeError(f"buf must be bytes, not {type(buf).__name__}")
    if type(prefixes) is not tuple or not all(isinstance(p, bytes) for p in prefixes):
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
    grammar (it refuses leading zeros and stray commas) and ``max`` for the bound."""
    text = _span(buf, start, end)
    if not 0 <= operator.index(limit) <= MAX_ID_LIMIT:
        raise ValueError("limit must be in [0, 2**32]")
    if text.translate(None, _ID_TEXT):
        return -1
    values = _parsed(text)
    if values is None or (values and max(values) >= limit):
        return -1
    return len(values)


def python_logprob_array(buf: bytes, start: int, end: int) -> int:
    """``logprob_array`` in Python: the characters and exponent signs by byte passes,
    orjson for the grammar, then the literals' lengths and signs on the text."""
    text = _span(buf, start, end)
    compact = text.translate(None, _SPACE)
    if compact.translate(None, _LOGPROB_TEXT):
        return -1
    if compact.count(b"e") != compact.count(b"e-") or compact.count(b"E") != compact.count(b"E-"):
        return -1  # a positive exponent
    values = _parsed(text)
    if values is None:
        return -1
    if not values:
        return 0
    # orjson accepted the text, so ``compact`` is literals joined by single commas.
    literals = compact.split(b",")
    if max(map(len, literals)) > MAX_NUMBER_BYTES:
        return -1
    signed = compact.count(b",-") + compact.startswith(b"-")
    if signed < len(values) and not all(map(_is_zero, literals)):
        return -1
    return len(values)


def _is_zero(literal: bytes) -> bool:
    """A signed literal, or an unsigned one whose mantissa digits are all zeros."""
    if literal.startswith(b"-"):
        return True
    mantissa = literal.split(b"e")[0].split(b"E")[0]
    return not mantissa.strip(b"0.")


try:
    from gymcheck import _bytescan
except ImportError:  # built without a compiler: the same answers, in Python
    COMPILED = False
    array_spans: ArraySpans = python_array_spans
    id_array: IdArray = python_id_array
    logprob_array: LogprobArray = python_logprob_array
else:
    COMPILED = True
    array_spans = _bytescan.array_spans
    id_array = _bytescan.id_array
    logprob_array = _bytescan.logprob_array
