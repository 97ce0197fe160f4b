"""Compressed rollout files: the same report as the plain file (findings, lines, counts), with
one worker and fanned out to two, and a broken stream reported, not raised."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import orjson
import pytest
import zstandard
from rollout_builders import make_record

from gymcheck import compressed, scan_stream
from gymcheck.errors import UsageError
from gymcheck.scan import check_paths, scan

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
