"""Compressed rollout files in the scan: decompressed once, in the scanning process, and read
in chunks of whole lines that are scanned there or fanned out to the pool.

A stream has no byte ranges to hand out, so this process decompresses (gzip inflates at a few
hundred MB/s, less than two workers scan) while the workers check; at most two chunks per
worker are in flight, so memory stays flat whatever the file size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from gymcheck.checks.records import SCHEMA
from gymcheck.compressed import STREAM_ERRORS, decompressed
from gymcheck.files import open_input
from gymcheck.jsonl import RawLine, read_lines
from gymcheck.report import Location
from gymcheck.scan_lines import (
    Options,
    Progress,
    Range,
    RangeResult,
    ScanResult,
    add_file,
    scan_lines,
    scan_lines_in_worker,
)

CHUNK_BYTES = 8 << 20
"""Decompressed lines sent to a worker at once."""


def scan_compressed(
    path: Path,
    name: str,
    result: ScanResult,
    tokenizer: Any,
    options: Options,
    progress: Progress | None,
    pool: ProcessPoolExecutor | None = None,
    workers: int = 1,
) -> None:
    """Decompress once, here, and scan the stream in chunks of whole lines: in this process,
    or fanned out to ``pool`` (at most two chunks per worker in flight, so memory stays
    flat). Findings keep the decompressed file's line numbers."""
    parts: list[RangeResult] = []
    pending: deque[Future[RangeResult]] = deque()
    broken = None
    reported = 0
    try:
        with open_input(path) as raw, decompressed(raw, name) as stream:
            for lines, where in stream_chunks(path, stream, options.max_line_bytes):
                if pool is None:
                    parts.append(scan_lines(lines, where, tokenizer, options, None))
                else:
                    pending.append(pool.submit(scan_lines_in_worker, lines, where, options))
                    while len(pending) > 2 * workers:
                        parts.append(pending.popleft().result())
                if progress is not None:
                    progress(raw.tell() - reported)
                    reported = raw.tell()
    except STREAM_ERRORS as exc:
        broken = Location(source=str(path)).finding(
            SCHEMA,
            f"the {name} stream is corrupt or cut off ({exc}); the lines before were scanned",
            fix=f"write the file again; check it with the {name} tool",
        )
    parts.extend(future.result() for future in pending)
    add_file(result, path, parts, read_to_end=broken is None)
    if broken is not None:
        result.tallies.collection.add_file_finding(broken)
    if progress is not None:
        progress(max(0, path.stat().st_size - reported))


def stream_chunks(
    path: Path, stream: BinaryIO, max_line_bytes: int
) -> Iterator[tuple[list[RawLine], Range]]:
    """The stream's lines in chunks of about ``CHUNK_BYTES``, each numbered from 1 and with
    the range that says where it starts; a chunk read before the stream broke is yielded
    before the error."""
    lines: list[RawLine] = []
    first_line = first_record = records = start = end = 0
    try:
        for line in read_lines(stream, max_line_bytes=max_line_bytes):
            lines.append(replace(line, number=line.number - first_line))
            records += not line.blank
            end = line.end_offset
            if end - start >= CHUNK_BYTES:
                yield lines, Range(path, start, end, first_line, first_record)
                lines, first_line, first_record = [], line.number, first_record + records
                records, start = 0, end
    except STREAM_ERRORS:
        if lines:
            yield lines, Range(path, start, end, first_line, first_record)
        raise
    if lines:
        yield lines, Range(path, start, end, first_line, first_record)
