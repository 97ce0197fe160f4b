"""Scan rollout JSONL files: ``rollout_collection`` and ``token_continuity`` in one streaming pass.

Memory stays flat: a file is read line by line, and what is kept per rollout is a few counters
(plus the findings of bad ones). With ``workers > 1`` each file is cut into byte ranges at line
starts and the ranges are scanned by a process pool; line numbers are fixed up afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymcheck.checks.collection import CollectionTally
from gymcheck.checks.continuity import ContinuityTally, diagnose_breaks
from gymcheck.checks.records import SCHEMA, RewardRange, inspect_record
from gymcheck.errors import UsageError
from gymcheck.files import check_input_file, compression_of
from gymcheck.jsonl import DEFAULT_MAX_LINE_BYTES, iter_lines, parse_line, split_ranges
from gymcheck.report import Finding, Report

Progress = Callable[[int], None]
"""Called with the number of bytes scanned since the last call."""

PathLike = str | os.PathLike[str]

_PROGRESS_EVERY = 4 << 20
_RANGE_BYTES = 32 << 20
_MIN_RANGE_BYTES = 1 << 20
"""Below this a range is not worth a process."""

_FIX_LINE = "write one complete JSON object per line, UTF-8 encoded (NeMo Gym's rollout JSONL)"


@dataclass(slots=True)
class ScanResult:
    """What a scan found; ``to_report()`` gives the report the renderers take."""

    collection: CollectionTally = field(default_factory=CollectionTally)
    continuity: ContinuityTally = field(default_factory=ContinuityTally)
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    lines: int = 0

    def merge(self, other: ScanResult) -> None:
        self.collection.merge(other.collection)
        self.continuity.merge(other.continuity)
        self.bytes += other.bytes
        self.lines += other.lines

    def to_report(self) -> Report:
        collection, continuity = self.collection.result(), self.continuity.result()
        collection.details["files"] = list(self.files)
        collection.details["bytes"] = self.bytes
        collection.details["lines"] = self.lines
        return Report([collection, continuity], title="Rollout file validation")


@dataclass(slots=True)
class _RangeResult:
    scan: ScanResult
    records: int


def check_paths(paths: Iterable[PathLike]) -> list[Path]:
    """The paths as ``Path``s; ``UsageError`` for one that is missing, not a regular file (a
    FIFO, a device, a directory) or compressed."""
    checked = []
    for raw in paths:
        path = check_input_file(raw)
        compression = compression_of(path)
        if compression is not None:
            name, tool = compression
            raise UsageError(
                f"{path}: is {name}-compressed; gymcheck reads plain JSONL: decompress it first "
                f"({tool} {path})"
            )
        checked.append(path)
    if not checked:
        raise UsageError("no rollout file given")
    return checked


def scan_rollouts(
    paths: Iterable[PathLike],
    *,
    tokenizer: Any = None,
    reward_range: RewardRange = (0.0, 1.0),
    workers: int = 1,
    progress: Progress | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Report:
    """Scan rollout JSONL files and report both rollout checks.

    ``tokenizer`` is a loaded tokenizer, a local directory or a cached model name (``None``:
    no decoding, causes are ``unknown``, no vocabulary check). Findings carry ``source``, the
    1-based ``line`` and the 0-based ``rollout_index`` within their file.
    """
    return scan(
        paths,
        tokenizer=tokenizer,
        reward_range=reward_range,
        workers=workers,
        progress=progress,
        max_line_bytes=max_line_bytes,
    ).to_report()


def scan(
    paths: Iterable[PathLike],
    *,
    tokenizer: Any = None,
    reward_range: RewardRange = (0.0, 1.0),
    workers: int = 1,
    progress: Progress | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ScanResult:
    """Like ``scan_rollouts``, returning the tallies (counts per code, cause, turns).

    ``workers`` is capped by the CPU count; a line over ``max_line_bytes`` is a ``schema``
    finding, skipped unread."""
    files = check_paths(paths)
    if isinstance(tokenizer, str | os.PathLike):
        from gymcheck.loading import load_tokenizer

        tokenizer = load_tokenizer(str(tokenizer))
    result = ScanResult(files=[str(p) for p in files])
    workers = worker_count(workers, files)
    if workers > 1:
        _scan_parallel(files, result, tokenizer, reward_range, workers, progress, max_line_bytes)
    else:
        for path in files:
            size = path.stat().st_size
            part = _scan_range(path, 0, size, tokenizer, reward_range, progress, max_line_bytes)
            _add_file(result, path, [part])
    return result


def worker_count(requested: int, files: Sequence[Path]) -> int:
    """At most one process per CPU, and one per range there is to scan: more only thrash."""
    ranges = sum(max(1, -(-f.stat().st_size // _MIN_RANGE_BYTES)) for f in files)
    return max(1, min(requested, os.cpu_count() or 1, ranges))


def _add_file(result: ScanResult, path: Path, parts: Sequence[_RangeResult]) -> None:
    """Merge one file's range results in order, turning range-local positions into file ones."""
    line_offset = record_offset = 0
    for part in parts:
        for finding in (*part.scan.collection.findings, *part.scan.continuity.findings):
            if finding.line is not None:
                finding.line += line_offset
            if finding.rollout_index is not None:
                finding.rollout_index += record_offset
        line_offset += part.scan.lines
        record_offset += part.records
        result.merge(part.scan)
    if record_offset == 0:
        result.collection.add_file_finding(
            Finding(
                SCHEMA,
                "the file is empty: it holds no rollout records",
                source=str(path),
                fix=_FIX_LINE,
            )
        )


def _scan_range(
    path: Path,
    start: int,
    end: int,
    tokenizer: Any,
    reward_range: RewardRange,
    progress: Progress | None,
    max_line_bytes: int,
) -> _RangeResult:
    source = str(path)
    scan = ScanResult(bytes=end - start)
    collection, continuity = scan.collection, scan.continuity
    vocab_size = len(tokenizer) if tokenizer is not None else None
    records = 0
    reported = start
    number = 0
    for line in iter_lines(path, start, end, max_line_bytes=max_line_bytes):
        number = line.number
        if progress is not None and line.end_offset - reported >= _PROGRESS_EVERY:
            progress(line.end_offset - reported)
            reported = line.end_offset
        data = line.data
        if line.blank:
            continue
        position = records
        records += 1
        record, error = parse_line(line)
        if error is not None:
            collection.add(
                [
                    Finding(
                        SCHEMA,
                        error,
                        source=source,
                        line=number,
                        rollout_index=position,
                        fix=_FIX_LINE,
                    )
                ]
            )
            continue
        inspection = inspect_record(
            record, reward_range=reward_range, vocab_size=vocab_size, raw=data
        )
        for finding in inspection.findings:
            finding.source, finding.line, finding.rollout_index = source, number, position
        turns = inspection.turns
        outputs = sum(1 for t in turns if t.generation_token_ids) if turns else 0
        collection.add(inspection.findings, trainable_outputs=outputs, reward=inspection.reward)
        if not turns:
            continue
        breaks: list[Finding] = []
        if any(b is not None for b in inspection.breaks):
            breaks = diagnose_breaks(record, turns, inspection.breaks, tokenizer)
            for finding in breaks:
                finding.source, finding.line, finding.rollout_index = source, number, position
        continuity.add(turns, breaks)
    scan.lines = number
    if progress is not None and end > reported:
        progress(end - reported)
    return _RangeResult(scan, records)


# --- the process pool ---------------------------------------------------------------------

_worker_tokenizer: Any = None


def _init_worker(tokenizer: Any) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tokenizer


def _scan_range_in_worker(
    path: Path, start: int, end: int, reward_range: RewardRange, max_line_bytes: int
) -> _RangeResult:
    return _scan_range(path, start, end, _worker_tokenizer, reward_range, None, max_line_bytes)


def _scan_parallel(
    files: Sequence[Path],
    result: ScanResult,
    tokenizer: Any,
    reward_range: RewardRange,
    workers: int,
    progress: Progress | None,
    max_line_bytes: int,
) -> None:
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(tokenizer,)
    ) as pool:
        jobs: list[tuple[Path, list[tuple[int, int, Future[_RangeResult]]]]] = []
        for path in files:
            size = path.stat().st_size
            parts = max(workers * 4, -(-size // _RANGE_BYTES))
            ranges = split_ranges(path, parts)
            jobs.append(
                (
                    path,
                    [
                        (
                            s,
                            e,
                            pool.submit(
                                _scan_range_in_worker, path, s, e, reward_range, max_line_bytes
                            ),
                        )
                        for s, e in ranges
                    ],
                )
            )
        for path, futures in jobs:
            parts_done = []
            for start, end, future in futures:
                parts_done.append(future.result())
                if progress is not None:
                    progress(end - start)
            _add_file(result, path, parts_done)
