"""Scan rollout JSONL files: ``rollout_collection`` and ``token_continuity`` in one streaming pass.

Memory stays flat: a file is read line by line, and what is kept per rollout is a few counters
(plus the findings of bad ones). With ``workers > 1`` each file is cut into byte ranges at line
starts; the pool first counts each range's lines, so that every range is scanned knowing its
first line and record, and each finding is created at its file position.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymcheck.checks.records import SCHEMA, RewardRange
from gymcheck.checks.rollout_pass import RolloutPass, RolloutTallies
from gymcheck.errors import UsageError
from gymcheck.fastscan import prove_clean
from gymcheck.files import check_input_file, compression_of
from gymcheck.jsonl import DEFAULT_MAX_LINE_BYTES, iter_lines, parse_line, split_ranges
from gymcheck.report import CheckResult, Location, Report

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

    tallies: RolloutTallies = field(default_factory=RolloutTallies)
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    lines: int = 0

    def merge(self, other: ScanResult) -> None:
        self.tallies.merge(other.tallies)
        self.bytes += other.bytes
        self.lines += other.lines

    def to_report(self) -> Report:
        return Report(list(self.results()), title="Rollout file validation")

    def results(self) -> tuple[CheckResult, CheckResult]:
        """The ``rollout_collection`` result (with what was read) and ``token_continuity``'s."""
        collection, continuity = self.tallies.results()
        collection.details |= {"files": list(self.files), "bytes": self.bytes, "lines": self.lines}
        return collection, continuity


@dataclass(frozen=True, slots=True)
class _Range:
    """A byte range of a file, and where it starts in the file's lines and records."""

    path: Path
    start: int
    end: int
    first_line: int = 0
    """Lines before the range."""
    first_record: int = 0
    """Records (non-blank lines) before the range."""


@dataclass(frozen=True, slots=True)
class _Options:
    """How every line is checked, the same in every process."""

    reward_range: RewardRange
    max_line_bytes: int
    spool_findings: bool
    fast: bool = True
    """Try ``gymcheck.fastscan`` first; ``False``: the exact path on every line."""


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
    spool_findings: bool = False,
    fast: bool = True,
) -> Report:
    """Scan rollout JSONL files and report both rollout checks.

    ``tokenizer`` is a loaded tokenizer, a local directory or a cached model name (``None``:
    no decoding, causes are ``unknown``, no vocabulary check). Findings carry ``source``, the
    1-based ``line`` and the 0-based ``rollout_index`` within their file. Each check keeps the
    first findings of each code and counts all; ``spool_findings`` writes every one to a
    temporary file, from which ``finding_dicts()`` and the JSON report stream them.
    ``fast=False`` runs the exact path on every line (``gymcheck.fastscan`` only skips it
    for lines it proves clean).
    """
    return scan(
        paths,
        tokenizer=tokenizer,
        reward_range=reward_range,
        workers=workers,
        progress=progress,
        max_line_bytes=max_line_bytes,
        spool_findings=spool_findings,
        fast=fast,
    ).to_report()


def scan(
    paths: Iterable[PathLike],
    *,
    tokenizer: Any = None,
    reward_range: RewardRange = (0.0, 1.0),
    workers: int = 1,
    progress: Progress | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    spool_findings: bool = False,
    fast: bool = True,
) -> ScanResult:
    """Like ``scan_rollouts``, returning the tallies (counts per code, cause, turns).

    ``workers`` is capped by the CPU count; a line over ``max_line_bytes`` is a ``schema``
    finding, skipped unread."""
    files = check_paths(paths)
    if isinstance(tokenizer, str | os.PathLike):
        from gymcheck.loading import load_tokenizer

        tokenizer = load_tokenizer(str(tokenizer))
    options = _Options(reward_range, max_line_bytes, spool_findings, fast)
    result = ScanResult(RolloutTallies.bounded(spool=spool_findings), [str(p) for p in files])
    workers = worker_count(workers, files)
    if workers > 1:
        _scan_parallel(files, result, tokenizer, options, workers, progress)
    else:
        for path in files:
            whole = _Range(path, 0, path.stat().st_size)
            part = _scan_range(whole, tokenizer, options, progress)
            _add_file(result, path, [part])
    return result


def worker_count(requested: int, files: Sequence[Path]) -> int:
    """At most one process per CPU, and one per range there is to scan: more only thrash."""
    ranges = sum(max(1, -(-f.stat().st_size // _MIN_RANGE_BYTES)) for f in files)
    return max(1, min(requested, os.cpu_count() or 1, ranges))


def _add_file(result: ScanResult, path: Path, parts: Sequence[_RangeResult]) -> None:
    """Merge one file's range results, in order."""
    for part in parts:
        result.merge(part.scan)
    if sum(part.records for part in parts) == 0:
        result.tallies.collection.add_file_finding(
            Location(source=str(path)).finding(
                SCHEMA, "the file is empty: it holds no rollout records", fix=_FIX_LINE
            )
        )


def _scan_range(
    where: _Range, tokenizer: Any, options: _Options, progress: Progress | None
) -> _RangeResult:
    """One pass over the range's records; each finding is created at its file line."""
    source = str(where.path)
    max_line_bytes = options.max_line_bytes
    rollouts = RolloutPass(
        tokenizer=tokenizer,
        reward_range=options.reward_range,
        tallies=RolloutTallies.bounded(spool=options.spool_findings),
    )
    records = 0
    reported = where.start
    number = where.first_line
    for line in iter_lines(where.path, where.start, where.end, max_line_bytes=max_line_bytes):
        number = where.first_line + line.number
        if progress is not None and line.end_offset - reported >= _PROGRESS_EVERY:
            progress(line.end_offset - reported)
            reported = line.end_offset
        if line.blank:
            continue
        at = Location(source=source, line=number, rollout_index=where.first_record + records)
        records += 1
        if options.fast and not line.oversize:
            clean = prove_clean(
                line.data, reward_range=options.reward_range, vocab_size=rollouts.vocab_size
            )
            if clean is not None:
                rollouts.add_clean(clean.turns, reward=clean.reward)
                continue
        record, error = parse_line(line)
        if error is not None:
            rollouts.add_unreadable(at.finding(SCHEMA, error, fix=_FIX_LINE))
            continue
        rollouts.add_record(record, at=at, raw=line.data)
    scan = ScanResult(
        rollouts.tallies, bytes=where.end - where.start, lines=number - where.first_line
    )
    if progress is not None and where.end > reported:
        progress(where.end - reported)
    return _RangeResult(scan, records)


# --- the process pool ---------------------------------------------------------------------

_worker_tokenizer: Any = None


def _init_worker(tokenizer: Any) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tokenizer


def _scan_range_in_worker(where: _Range, options: _Options) -> _RangeResult:
    return _scan_range(where, _worker_tokenizer, options, None)


def _count_range(where: _Range, max_line_bytes: int) -> tuple[int, int]:
    """``(lines, records)`` in the range: where the next range starts counting."""
    lines = records = 0
    for line in iter_lines(where.path, where.start, where.end, max_line_bytes=max_line_bytes):
        lines = line.number
        records += not line.blank
    return lines, records


def _located_ranges(
    pool: ProcessPoolExecutor, path: Path, parts: int, max_line_bytes: int
) -> list[_Range]:
    """The file cut into ranges, each knowing its first line and record (counted in the pool,
    so that findings are created at their file position)."""
    ranges = [_Range(path, s, e) for s, e in split_ranges(path, parts)]
    counts = list(pool.map(_count_range, ranges, [max_line_bytes] * len(ranges)))
    located, lines, records = [], 0, 0
    for where, (range_lines, range_records) in zip(ranges, counts, strict=True):
        located.append(_Range(path, where.start, where.end, lines, records))
        lines += range_lines
        records += range_records
    return located


def _scan_parallel(
    files: Sequence[Path],
    result: ScanResult,
    tokenizer: Any,
    options: _Options,
    workers: int,
    progress: Progress | None,
) -> None:
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(tokenizer,)
    ) as pool:
        jobs: list[tuple[Path, list[tuple[_Range, Future[_RangeResult]]]]] = []
        for path in files:
            parts = max(workers * 4, -(-path.stat().st_size // _RANGE_BYTES))
            ranges = _located_ranges(pool, path, parts, options.max_line_bytes)
            futures = [
                (where, pool.submit(_scan_range_in_worker, where, options)) for where in ranges
            ]
            jobs.append((path, futures))
        for path, submitted in jobs:
            parts_done = []
            for where, future in submitted:
                parts_done.append(future.result())
                if progress is not None:
                    progress(where.end - where.start)
            _add_file(result, path, parts_done)
