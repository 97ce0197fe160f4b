"""Streaming JSONL in-process: line numbers, blank and cut-off lines, ranges at line starts."""

from __future__ import annotations

import itertools
from pathlib import Path

from gymcheck.jsonl import iter_lines, iter_values, parse_line, split_ranges


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
