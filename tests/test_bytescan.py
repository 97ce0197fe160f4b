"""The token-array validators: the C extension and the pure-Python fallback answer the same,
and what they accept orjson reads as that many values the record checks pass."""

from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gymcheck import bytescan

LIMIT = 151_669
ID_FUNCTIONS = {"compiled": bytescan.id_array, "python": bytescan.python_id_array}
LOGPROB_FUNCTIONS = {"compiled": bytescan.logprob_array, "python": bytescan.python_logprob_array}


def test_the_extension_is_built():
    # A silent build failure (optional=True) would leave the scan on the slower fallback.
    assert bytescan.COMPILED, (
        "gymcheck._bytescan was not built, or was built from older sources: is a C compiler "
        "installed? (rebuild: pip install -e ., or python setup.py build_ext --inplace)"
    )
    assert bytescan.id_array is not bytescan.python_id_array


PREFIXES = (b'"ids":', b'"ids": ')


def spans(line: bytes, prefixes: tuple[bytes, ...] = PREFIXES) -> list[int] | None:
    """Both implementations' spans (asserted equal)."""
    compiled = bytescan.array_spans(line, prefixes)
    assert compiled == bytescan.python_array_spans(line, prefixes)
    return compiled


@pytest.mark.parametrize(
    ("line", "found"),
    [
        (b'{"ids": [1, 2], "x": [3], "ids":[ 4 ]}', [9, 13, 34, 35]),
        (b'{"ids": []}', [9, 9]),
        (b'{"ids": [ \t ]}', [12, 12]),
        (b'{"ids" : [1]}', []),  # another spacing: not found
        (b'{"a\\"ids": [1]}', [12, 13]),  # the prefix is all that is compared
        (b'{"ids": [[1], 2]}', [9, 11]),  # cut at the first "]"
        (b'{"ids": ["a]"]}', [9, 11]),
        (b'{"ids": [1, 2}', None),
        (b'{"ids": [', None),
        (b"", []),
        (b"[[[", []),
    ],
)
def test_array_spans(line, found):
    assert spans(line) == found


def test_array_spans_checks_its_arguments():
    for find in (bytescan.array_spans, bytescan.python_array_spans):
        with pytest.raises(TypeError):
            find(bytearray(b"[]"), PREFIXES)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            find(b"[]", list(PREFIXES))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            find(b"[]", ("x",))  # type: ignore[arg-type]
        assert find(b"a:[1]", ()) == []
        assert find(b"a:[1]", (b"",)) == [3, 4]


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from([b"[", b"]", b'"ids":', b" ", b"1", b",", b'"', b"\\"]), max_size=30)
)
def test_arbitrary_lines_get_the_same_spans(pieces):
    spans(b"".join(pieces))


def ids(text: bytes, limit: int = LIMIT) -> int:
    """Both implementations' answer on ``text`` (asserted equal), checked against orjson."""
    padded = b"xx[" + text + b"]yy"  # the span sits inside a line, as in the scan
    answers = {n: f(padded, 3, 3 + len(text), limit) for n, f in ID_FUNCTIONS.items()}
    assert answers["compiled"] == answers["python"], answers
    count = answers["compiled"]
    if count >= 0:
        values = orjson.loads(b"[" + text + b"]")
        assert len(values) == count
        assert all(type(v) is int and 0 <= v < limit for v in values)
    return count


def logprobs(text: bytes) -> int:
    padded = b"x[" + text + b"]"
    answers = {n: f(padded, 2, 2 + len(text)) for n, f in LOGPROB_FUNCTIONS.items()}
    assert answers["compiled"] == answers["python"], answers
    count = answers["compiled"]
    if count >= 0:
        values = orjson.loads(b"[" + text + b"]")
        assert len(values) == count
        assert all(type(v) in (int, float) and math.isfinite(v) and v <= 0 for v in values)
    return count


@pytest.mark.parametrize(
    ("text", "count"),
    [
        (b"", 0),
        (b" ", 0),
        (b"0", 1),
        (b"1,2,3", 3),
        (b"151668", 1),
        (b" 1 , 2\t,\r\n3 ", 3),
        (b"151669", -1),  # the limit itself
        (b"01", -1),
        (b"00", -1),
        (b"-0", -1),  # orjson reads 0, but a sign is left to the exact path
        (b"-1", -1),
        (b"1.0", -1),
        (b"0e5", -1),
        (b"1E+2", -1),
        (b"1,", -1),
        (b",1", -1),
        (b"1,,2", -1),
        (b",", -1),
        (b"1 2", -1),
        (b"true", -1),
        (b"null", -1),
        (b'"7"', -1),
        (b"[1]", -1),
        (b"1,\xc2\xa0", -1),
        (b"\xff", -1),
        (b"1\x00", -1),
        (b"1\x0c", -1),  # form feed: not JSON whitespace
        (b"1\x0b", -1),
        (b"NaN", -1),
    ],
)
def test_id_arrays(text, count):
    assert ids(text) == count


@pytest.mark.parametrize(
    ("value", "limit", "count"),
    [
        (2**31 - 1, 2**31, 1),
        (2**31, 2**31, -1),
        (2**32 - 1, 2**32, 1),
        (2**32, 2**32, -1),
        (2**64, 2**32, -1),
        (2**64 + 1, 2**32, -1),  # orjson: a float
        (10**40, 2**32, -1),
        (0, 0, -1),
        (0, 1, 1),
    ],
)
def test_id_bounds(value, limit, count):
    assert ids(str(value).encode(), limit) == count


@pytest.mark.parametrize(
    ("text", "count"),
    [
        (b"", 0),
        (b"\t", 0),
        (b"-0.5", 1),
        (b"-0.5,-1.25e-05, -3", 3),
        (b"-1.2345678901234567e-05", 1),
        (b"-0", 1),
        (b"-0.0", 1),
        (b"0", 1),
        (b"0.0", 1),
        (b"0.000", 1),
        (b"0e5", -1),  # zero, but a positive exponent is never read
        (b"0e-5", 1),
        (b"0E-5", 1),
        (b"-1E-2", 1),
        (b"-1e-400", 1),  # orjson: -0.0
        (b"-4.9e-324", 1),
        (b"1e-400", -1),  # orjson: 0.0, but the text is positive
        (b"0.5", -1),
        (b"1", -1),
        (b"1E+2", -1),
        (b"-1E+2", -1),
        (b"-1e2", -1),
        (b"-1e400", -1),
        (b"1e400", -1),
        (b"-1e", -1),
        (b"-1e-", -1),
        (b"-1.", -1),
        (b"-.5", -1),
        (b"-", -1),
        (b"--1", -1),
        (b"+1", -1),
        (b"-01", -1),
        (b"-00.5", -1),
        (b"00", -1),
        (b"-1 .5", -1),
        (b"- 1", -1),
        (b"-1,", -1),
        (b"-1,,-2", -1),
        (b"NaN", -1),
        (b"-Infinity", -1),
        (b"Infinity", -1),
        (b"false", -1),
        (b"null", -1),
        (b'"-0.5"', -1),
        (b"[-1]", -1),
        (b"-0.5,\xe2\x80\x83", -1),
        # The magnitude bound, 10**15: integer digits minus the exponent.
        (b"-" + b"9" * 15 + b".9", 1),  # orjson rounds it to -1e15: the text decides
        (b"-1" + b"0" * 15, -1),
        (b"-" + b"1" * 16 + b"e-1", 1),
        (b"-" + b"1" * 40 + b"e-25", 1),
        (b"-" + b"1" * 40 + b"e-24", -1),
        (b"-" + b"1" * 40 + b"E-0025", 1),
        (b"-" + b"9" * 400, -1),  # orjson: infinity
        (b"-" + b"1" * 1000 + b"e-" + b"9" * 20, 1),  # an exponent past the cap counts as it
        # Fractions and negative exponents of any length: orjson reads them.
        (b"-0." + b"1" * 10_000, 1),
        (b"-1e-" + b"9" * 1000, 1),
        (b"-1e-" + b"0" * 1000 + b"5", 1),
        (b"0e-" + b"9" * 30, 1),
        (b"0." + b"0" * 400 + b"1", -1),  # orjson: 0.0, but the text is positive
        (b"-0.5, 0.0, -0, 0, 0.000e-7, -1e-5", 6),
        (b"-0.5, 0.5", -1),
        (b"-2147483648", 1),
        (b"-18446744073709551616", -1),
        (b"-18446744073709551616e-5", 1),
    ],
)
def test_logprob_arrays(text, count):
    assert logprobs(text) == count


@pytest.mark.parametrize("name", ["compiled", "python"])
def test_arguments_are_checked(name):
    id_array, logprob_array = ID_FUNCTIONS[name], LOGPROB_FUNCTIONS[name]
    with pytest.raises(TypeError):
        id_array(bytearray(b"1"), 0, 1, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        logprob_array("-1", 0, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        logprob_array(memoryview(b"-1"), 0, 2)  # type: ignore[arg-type]
    for start, end in ((-1, 1), (2, 1), (0, 3), (4, 5)):
        with pytest.raises(ValueError):
            id_array(b"12", start, end, 10)
        with pytest.raises(ValueError):
            logprob_array(b"-1", start, end)
    for limit in (-1, 2**32 + 1, 2**70):
        with pytest.raises(ValueError):
            id_array(b"1", 0, 1, limit)
    with pytest.raises(TypeError):
        id_array(b"1", 0, 1.0, 10)  # type: ignore[arg-type]


# Text made of what number arrays are made of, and a few things they must not hold (bytes
# just past the digits, and those past 0xF9, which the compiled digit scan reads eight at a
# time).
_PIECES = [
    *(bytes([c]) for c in b"0179-.eE+, \t\n/:x\x00\xfa\xff"),
    b"\xc2\xa0",
    b"12345678",
    b"151669",
    b"0000000000",
    b"-0.1234567890123456",
    b"999999999999999",
    b"e-1",
    b"e-01",
]


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(_PIECES), max_size=24))
def test_arbitrary_text_gets_the_same_answer(pieces):
    text = b"".join(pieces)
    ids(text)
    ids(text, 10)
    logprobs(text)


@settings(max_examples=200)
@given(
    values=st.lists(st.integers(0, LIMIT - 1), max_size=40),
    separator=st.sampled_from([",", ", ", " ,", ",\n ", "\t,\t"]),
)
def test_written_id_arrays_are_accepted(values, separator):
    assert ids(separator.join(map(str, values)).encode()) == len(values)


@settings(max_examples=200)
@given(
    values=st.lists(
        # Magnitudes below the bound (10**15), which Python and orjson write without a
        # positive exponent.
        st.floats(-1e14, 0, allow_nan=False) | st.integers(-(2**40), 0),
        max_size=40,
    ),
    writer=st.sampled_from(["json", "orjson"]),
)
def test_written_logprob_arrays_are_accepted(values, writer):
    text = json.dumps(values).encode() if writer == "json" else orjson.dumps(values)
    inner = text[1:-1]
    assert logprobs(inner) == len(values)
