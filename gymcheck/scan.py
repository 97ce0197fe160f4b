"""Scan rollout JSONL files: ``rollout_collection`` and ``token_continuity`` in one streaming pass.

Memory stays flat: a file is read line by line, and what is kept per rollout is a few counters
(plus the findings of bad ones). With ``workers > 1`` each file is cut into byte ranges at line
starts, each scanned as if it started the file; as the results come back in order, each
range's findings are shifted by the lines and records of the ranges before it
(``scan_lines.placed``), so no pass counts lines before the scan. A compressed file
(gzip, zstd, bzip2, xz) is decompressed once and its chunks fanned out
(``gymcheck.scan_stream``).
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypedDict, Unpack

from gymcheck.checks.records import RewardRange
from gymcheck.checks.rollout_pass import RolloutTallies
from gymcheck.compressed import compression, require_reader
from gymcheck.errors import UsageError
from gymcheck.files import check_input_file, open_input
from gymcheck.jsonl import DEFAULT_MAX_LINE_BYTES, split_at
from gymcheck.report import Report
from gymcheck.scan_lines import (
    Options,
    Progress,
    Range,
    RangeResult,
    ScanResult,
    add_file,
    init_worker,
    placed,
    scan_range,
    scan_range_in_worker,
)
from gymcheck.scan_stream import scan_compressed

__all__ = ["Progress", "ScanResult", "check_paths", "scan", "scan_rollouts", "worker_count"]

PathLike = str | os.PathLike[str]

_RANGE_BYTES = 32 << 20
_MIN_RANGE_BYTES = 1 << 20
"""Below this a range is not worth a process."""
_TAIL_SHARE = 2
"""Each range is at most ``1 / (_TAIL_SHARE * workers)`` of what is left of the file."""


def check_paths(paths: Iterable[PathLike]) -> list[Path]:
    """The paths as ``Path``s; ``UsageError`` for one that is missing, not a regular file (a
    FIFO, a device, a directory), or zstd-compressed without ``zstandard`` installed."""
    checked = []
    for raw in paths:
        path = check_input_file(raw)
        name = compression_of(path)
        if name is not None:
            require_reader(name, path)
        checked.append(path)
    if not checked:
        raise UsageError("no rollout file given")
    return checked


def compression_of(path: Path) -> str | None:
    """The file's compression format by its magic bytes (``gymcheck.compressed``), or ``None``."""
    with open_input(path) as handle:
        return compression(handle)


class ScanOptions(TypedDict, total=False):
    """``scan``'s keyword options, which ``scan_rollouts`` passes on."""

    tokenizer: Any
    reward_range: RewardRange
    workers: int
    progress: Progress | None
    max_line_bytes: int
    spool_findings: bool
    fast: bool
    ray: str | None


def scan_rollouts(paths: Iterable[PathLike], **options: Unpack[ScanOptions]) -> Report:
    """Scan rollout JSONL files and report both rollout checks.

    ``tokenizer`` is a loaded tokenizer, a local directory or a cached model name (``None``:
    no decoding, causes are ``unknown``, no vocabulary check). Findings carry ``source``, the
    1-based ``line`` and the 0-based ``rollout_index`` within their file. Each check keeps the
    first findings of each code and counts all; ``spool_findings`` writes every one to a
    temporary file, from which ``finding_dicts()`` and the JSON report stream them.
    ``fast=False`` runs the exact path on every line (``gymcheck.fastscan`` only skips it
    for lines it proves clean). The other options and their defaults are ``scan``'s.
    """
    return scan(paths, **options).to_report()


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
    ray: str | None = None,
    keep_records: bool = False,
) -> ScanResult:
    """Like ``scan_rollouts``, returning the tallies (counts per code, cause, turns).

    ``workers`` is capped by the CPU count; a line over ``max_line_bytes`` is a ``schema``
    finding, skipped unread. ``ray`` (an address, or ``local``) runs the scan as Ray tasks
    instead of a local pool (``gymcheck.scan_ray``). ``keep_records`` keeps every record
    in ``tallies.records``, in order, for the checks that train on them (each line parsed
    once: a line the fast path proves clean is parsed after the proof)."""
    files = check_paths(paths)
    if isinstance(tokenizer, str | os.PathLike):
        from gymcheck.loading import load_tokenizer

        tokenizer = load_tokenizer(str(tokenizer))
    options = Options(reward_range, max_line_bytes, spool_findings, fast, keep_records)
    tallies = RolloutTallies.bounded(spool=spool_findings, keep_records=keep_records)
    result = ScanResult(tallies, [str(p) for p in files])
    if ray is not None:
        from gymcheck.scan_ray import scan_with_ray

        compressed = [(path, compression_of(path)) for path in files]
        scan_with_ray(compressed, result, tokenizer, options, ray)
        return result
    workers = worker_count(workers, files)
    if workers > 1:
        _scan_parallel(files, result, tokenizer, options, workers, progress)
    else:
        for path in files:
            name = compression_of(path)
            if name is not None:
                scan_compressed(path, name, result, tokenizer, options, progress)
                continue
            whole = Range(path, 0, path.stat().st_size)
            part = scan_range(whole, tokenizer, options, progress)
            add_file(result, path, [part])
    return result


def worker_count(requested: int, files: Sequence[Path]) -> int:
    """At most one process per CPU, and one per range there is to scan: more only thrash."""
    ranges = sum(max(1, -(-f.stat().st_size // _MIN_RANGE_BYTES)) for f in files)
    return max(1, min(requested, os.cpu_count() or 1, ranges))


# --- the process pool ---------------------------------------------------------------------


def range_cuts(size: int, workers: int) -> list[int]:
    """Where to cut a file of ``size`` bytes for ``workers`` processes: ranges of
    ``_RANGE_BYTES``, shrinking towards the end to ``_MIN_RANGE_BYTES`` (each a share of what
    is left). The pool hands ranges out in order, so the last ones are short and no worker
    waits long for the one still scanning: with equal ranges that wait was about half a range,
    3% of a 1.1 GB scan's time in 35 ranges of 32 MiB, 12% of a 200 MB scan's in 8."""
    cuts: list[int] = []
    done = 0
    while True:
        left = size - done
        done += min(_RANGE_BYTES, max(_MIN_RANGE_BYTES, left // (_TAIL_SHARE * workers)))
        if done >= size:
            return cuts
        cuts.append(done)


def _scan_parallel(
    files: Sequence[Path],
    result: ScanResult,
    tokenizer: Any,
    options: Options,
    workers: int,
    progress: Progress | None,
) -> None:
    with (
        _frozen_heap(),
        ProcessPoolExecutor(
            max_workers=workers, initializer=init_worker, initargs=(tokenizer,)
        ) as pool,
    ):
        jobs: list[tuple[Path, list[tuple[Range, Future[RangeResult]]]]] = []
        for path in files:
            name = compression_of(path)
            if name is not None:  # files are merged in order: finish the ranges before it
                _collect(jobs, result, progress)
                jobs = []
                scan_compressed(path, name, result, tokenizer, options, progress, pool, workers)
                continue
            cuts = range_cuts(path.stat().st_size, workers)
            ranges = [Range(path, s, e) for s, e in split_at(path, cuts)]
            futures = [
                (where, pool.submit(scan_range_in_worker, where, options)) for where in ranges
            ]
            jobs.append((path, futures))
        _collect(jobs, result, progress)


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """The parent's objects out of the collector's reach while workers fork from it: a forked
    worker's first collection would otherwise write to every page they sit on, copying it
    (about 10 ms of each worker's first range on the rollout bench; ``gc.freeze``'s docs).
    A heap someone else froze is theirs to thaw: it is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _collect(
    jobs: Sequence[tuple[Path, Sequence[tuple[Range, Future[RangeResult]]]]],
    result: ScanResult,
    progress: Progress | None,
) -> None:
    for path, submitted in jobs:
        add_file(result, path, list(placed(_finished(submitted, progress))))


def _finished(
    submitted: Sequence[tuple[Range, Future[RangeResult]]], progress: Progress | None
) -> Iterator[RangeResult]:
    """Each range's result, in order, as it comes (its findings are shifted meanwhile)."""
    for where, future in submitted:
        yield future.result()
        if progress is not None:
            progress(where.end - where.start)
