"""Compressed rollout files: the same report as the plain file (findings, lines, counts), with
one worker and fanned out to two, and a broken stream reported, not raised."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from pathlib import Path
from unittest import mock

import orjson
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_builders import make_record

from gymcheck import compressed, scan_stream
from gymcheck.errors import UsageError
from gymcheck.jsonl import read_lines
from gymcheck.scan import check_paths, scan
from gymcheck.scan_lines import block_lines

PACKERS = {
    "gzip": gzip.compress,
    "zstd": zstandard.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


def line(reward: object = 1.0) -> bytes:
    prompt, generated = list(range(1, 11)), [11, 12, 13]
    turns = [(prompt, generated), ([*prompt, *generated, 20, 21], [30, 31])]
    return orjson.dumps(make_record(turns, reward=reward)) + b"\n"


def mixed_dump() -> bytes:
    """Clean records around a broken reward, a line that is not JSON and a blank line."""
    return b"".join(
        [
            line(),
            line(reward=7.0),
            b"{not json\n",
            b"\n",
            *[line() for _ in range(5)],
            line(reward="high"),
        ]
    )


def comparable(path: Path, **options) -> tuple[list[dict], list[dict]]:
    report = scan([path], **options).to_report()
    findings = [{**f.to_dict(), "source": None} for f in report.findings]
    details = [{**c.details, "files": None} for c in report.checks]
    return findings, details


@pytest.mark.parametrize("name", sorted(PACKERS))
@pytest.mark.parametrize("workers", [1, 2])
def test_a_compressed_file_gives_the_plain_files_report(tmp_path, name, workers):
    plain = tmp_path / "rollouts.jsonl"
    plain.write_bytes(mixed_dump())
    packed = tmp_path / "rollouts.data"  # no telling extension: the magic bytes decide
    packed.write_bytes(PACKERS[name](mixed_dump()))
    findings, details = comparable(packed, workers=workers)
    assert (findings, details) == comparable(plain)
    assert [(f["line"], f["code"]) for f in findings] == [
        (2, "reward_invalid"),
        (3, "schema"),
        (10, "reward_invalid"),
    ]


def test_chunks_fanned_out_keep_line_numbers(tmp_path, monkeypatch):
    # Chunks of about one line each: the line and record counts carry across chunks.
    monkeypatch.setattr(scan_stream, "CHUNK_BYTES", 64)
    plain = tmp_path / "rollouts.jsonl"
    plain.write_bytes(mixed_dump())
    packed = tmp_path / "rollouts.jsonl.gz"
    packed.write_bytes(gzip.compress(mixed_dump()))
    assert comparable(packed, workers=1) == comparable(plain)
    findings, _ = comparable(packed, workers=1)
    assert [(f["line"], f["rollout_index"]) for f in findings] == [(2, 1), (3, 2), (10, 8)]


def test_a_cut_off_stream_is_a_finding_after_the_lines_before_it(tmp_path):
    # Distinct rewards so that the stream is long enough to break after many lines.
    lines = [line(reward=7.0), *(line(reward=i / 4000) for i in range(4000))]
    data = gzip.compress(b"".join(lines))
    path = tmp_path / "rollouts.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    report = scan([path]).to_report()
    [stream] = [f for f in report.findings if f.line is None]
    assert stream.code == "schema"
    assert "gzip stream is corrupt or cut off" in stream.message
    assert [(f.code, f.line) for f in report.findings if f.line is not None] == [
        ("reward_invalid", 1)
    ]
    assert report.checks[0].details["rollouts"] > 1000  # the lines before the cut


def test_a_stream_broken_at_once_is_one_finding(tmp_path):
    path = tmp_path / "rollouts.jsonl.gz"
    path.write_bytes(gzip.compress(mixed_dump())[:40])
    report = scan([path]).to_report()
    assert [f.code for f in report.findings] == ["schema"]
    assert "gzip stream is corrupt or cut off" in report.findings[0].message


def test_zstd_without_zstandard_is_a_usage_error(tmp_path, monkeypatch):
    path = tmp_path / "rollouts.jsonl.zst"
    path.write_bytes(zstandard.compress(mixed_dump()))
    monkeypatch.setattr(compressed, "zstandard", None)
    with pytest.raises(UsageError, match=r"zstd-compressed; reading it needs zstandard"):
        check_paths([path])


# --- the stream cut into blocks: the lines read_lines gives, whatever the pieces -------------


class Pieces(io.RawIOBase):
    """A stream that hands out ``data`` in pieces of the given sizes, then ends or breaks."""

    def __init__(self, data: bytes, sizes: list[int], *, breaks: bool) -> None:
        self.data, self.sizes, self.breaks, self.at = data, sizes, breaks, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.at >= len(self.data):
            if self.breaks:
                raise EOFError("cut off")
            return 0
        size = min(len(buffer), self.sizes[self.at % len(self.sizes)] if self.sizes else 1)
        piece = self.data[self.at : self.at + max(1, size)]
        buffer[: len(piece)] = piece
        self.at += len(piece)
        return len(piece)


def lines_read(stream: io.BufferedReader, cap: int) -> tuple[list[tuple], bool]:
    lines: list[tuple] = []
    try:
        for line in read_lines(stream, max_line_bytes=cap):
            lines.append((line.data, line.terminated, line.oversize))
    except EOFError:
        return lines, True
    return lines, False


def lines_in_blocks(stream: io.BufferedReader, cap: int) -> tuple[list[tuple], bool]:
    lines: list[tuple] = []
    start = 0
    try:
        for block, where in scan_stream.stream_blocks(Path("x"), stream, cap):
            assert where.start == start and (where.first_line, where.first_record) == (0, 0)
            start = where.end
            got = list(block_lines(block, cap))
            assert [line.number for line in got] == list(range(1, len(got) + 1))
            lines += [(line.data, line.terminated, line.oversize) for line in got]
    except EOFError:
        return lines, True
    return lines, False


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"{}", b"abc", b" ", b"\n", b"\n\n", b"xxxxxxx"]), max_size=30),
    sizes=st.lists(st.integers(1, 12), max_size=4),
    cap=st.integers(1, 10),
    chunk=st.integers(1, 20),
    breaks=st.booleans(),
)
def test_blocks_hold_the_lines_that_read_lines_gives(data, sizes, cap, chunk, breaks):
    """Lines over the cap (skipped in the stream or inside a block), a last line without a
    newline, a stream that breaks mid-line: the same lines, before the same error."""
    content = b"".join(data)

    def stream() -> io.BufferedReader:
        return io.BufferedReader(Pieces(content, sizes, breaks=breaks), buffer_size=8)

    with mock.patch.object(scan_stream, "CHUNK_BYTES", chunk):
        assert lines_in_blocks(stream(), cap) == lines_read(stream(), cap)


@pytest.mark.parametrize("frames", [1, 3])
def test_a_zstd_stream_cut_inside_a_frame_is_a_finding(tmp_path, frames):
    # zstandard's own reader ends a cut-off stream silently; every cut inside a frame must show.
    lines = [line(reward=i / 4000) for i in range(3000)]
    step = -(-len(lines) // frames)
    data = b"".join(
        zstandard.compress(b"".join(lines[i : i + step])) for i in range(0, len(lines), step)
    )
    path = tmp_path / "rollouts.jsonl.zst"
    for cut in (1, 4, len(data) // 2):
        path.write_bytes(data[:-cut])
        report = scan([path]).to_report()
        [stream] = [f for f in report.findings if f.line is None]
        assert "zstd stream is corrupt or cut off" in stream.message, cut
    path.write_bytes(data)
    assert scan([path]).to_report().checks[0].details["rollouts"] == len(lines)


def test_a_broken_stream_shows_after_many_findings(tmp_path):
    # The file's own finding is kept even when its code's kept findings are full.
    data = gzip.compress(b"not json\n" * 300 + b"".join(line(reward=i / 4000) for i in range(4000)))
    path = tmp_path / "rollouts.jsonl.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    report = scan([path]).to_report()
    kept = [f for f in report.findings if f.line is None]
    assert len(kept) == 1 and "gzip stream is corrupt or cut off" in kept[0].message
