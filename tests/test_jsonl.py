"""Streaming JSONL in-process: line numbers, blank and cut-off lines, ranges at line starts."""

from __future__ import annotations

import itertools
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gymcheck import jsonl
from gymcheck.jsonl import count_lines, iter_lines, iter_values, parse_line, split_ranges


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "rollouts.jsonl"
    path.write_bytes(data)
    return path


def test_values_are_numbered_by_line_and_blank_lines_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, b'{"a": 1}\n\n   \n[2]\nnot json\n{"cut": ')
    got = [(number, value, problem is not None) for number, value, problem in iter_values(path)]
    assert got == [(1, {"a": 1}, False), (4, [2], False), (5, None, True), (6, None, True)]
    *_, (_, _, cut) = iter_values(path)
    assert cut is not None and "cut off" in cut


def test_a_byte_that_is_not_utf8_is_named_with_its_column(tmp_path: Path) -> None:
    path = write(tmp_path, b'{"x": "\xff"}\n')
    [line] = iter_lines(path)
    value, problem = parse_line(line)
    assert value is None and problem == "byte 0xff at column 8 is not valid UTF-8"


def test_ranges_start_at_line_starts_and_cover_the_file(tmp_path: Path) -> None:
    lines = [b'{"n": %d, "pad": "%s"}\n' % (k, b"x" * (k * 7 % 50)) for k in range(40)]
    path = write(tmp_path, b"".join(lines))
    ranges = split_ranges(path, 6)
    assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(ranges))
    data = path.read_bytes()
    assert all(start == 0 or data[start - 1 : start] == b"\n" for start, _ in ranges)
    read = [line.data for start, end in ranges for line in iter_lines(path, start, end)]
    assert read == lines


# --- count_lines: the parallel scan's pre-count agrees with iter_lines -----------------------

_PIECES = [b"{}", b"x", b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"\n", b"\n", b"\xff", b"  \n"]


@pytest.fixture(scope="module")
def count_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("count") / "lines.jsonl"


def iter_counted(path: Path, start: int, end: int | None, cap: int) -> tuple[int, int]:
    lines = list(iter_lines(path, start, end, max_line_bytes=cap))
    return len(lines), sum(not line.blank for line in lines)


@settings(max_examples=400, deadline=None)
@given(
    data=st.lists(st.sampled_from(_PIECES), max_size=40).map(b"".join),
    cap=st.integers(1, 8),
    read=st.integers(1, 9),
    where=st.tuples(st.integers(0, 1000), st.one_of(st.none(), st.integers(0, 60))),
)
def test_count_lines_agrees_with_iter_lines(
    count_file: Path, data: bytes, cap: int, read: int, where: tuple[int, int | None]
) -> None:
    """Lines, blank lines (every byte whitespace), oversize lines (records, even when blank),
    a last line without newline, ranges that end inside a line; reads of a few bytes, so that
    lines and whitespace runs straddle them."""
    count_file.write_bytes(data)
    starts = [0] + [k + 1 for k, byte in enumerate(data) if byte == ord("\n")]
    start = starts[where[0] % len(starts)]
    end = None if where[1] is None else start + where[1]
    with mock.patch.object(jsonl, "_COUNT_READ", read):
        counted = count_lines(count_file, start, end, max_line_bytes=cap)
    assert counted == iter_counted(count_file, start, end, cap)


def test_count_lines_of_split_ranges_add_up_to_the_file(tmp_path: Path) -> None:
    lines = [b'{"n": %d}\n' % k + b" \t\n" * (k % 3) for k in range(50)] + [b"{cut"]
    path = write(tmp_path, b"".join(lines))
    counts = [count_lines(path, start, end) for start, end in split_ranges(path, 7)]
    assert tuple(map(sum, zip(*counts, strict=True))) == iter_counted(path, 0, None, 1 << 20)


def test_space_is_what_bytes_isspace_takes() -> None:
    assert {c for c in range(256) if bytes([c]).isspace()} == jsonl._SPACE
