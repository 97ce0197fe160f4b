"""The per-line core of the rollout scan, the same in every process: a range of a file (or a
chunk of a decompressed stream) read line by line, each record checked once.

``gymcheck.scan`` cuts files into ranges and runs them here, in this process or a pool;
``gymcheck.scan_stream`` feeds blocks of a decompressed stream; ``gymcheck.scan_ray`` runs
ranges as Ray tasks. A range that knows its first line and record (``Range``) creates each
finding at its file position; the pool's ranges and the stream's blocks start at line 1 and
record 0, and ``placed`` shifts their findings once the ranges before them are done.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymcheck.checks.records import SCHEMA, RewardRange
from gymcheck.checks.rollout_pass import RolloutPass, RolloutTallies
from gymcheck.fastscan import prove_clean
from gymcheck.jsonl import RawLine, count_lines, iter_lines, parse_line, read_lines
from gymcheck.report import CheckResult, Location, Report

Progress = Callable[[int], None]
"""Called with the number of bytes scanned since the last call."""

PROGRESS_EVERY = 4 << 20

FIX_LINE = "write one complete JSON object per line, UTF-8 encoded (NeMo Gym's rollout JSONL)"


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
class Range:
    """A byte range of a file, and where it starts in the file's lines and records."""

    path: Path
    start: int
    end: int
    first_line: int = 0
    """Lines before the range."""
    first_record: int = 0
    """Records (non-blank lines) before the range."""


@dataclass(frozen=True, slots=True)
class Options:
    """How every line is checked, the same in every process."""

    reward_range: RewardRange
    max_line_bytes: int
    spool_findings: bool
    fast: bool = True
    """Try ``gymcheck.fastscan`` first; ``False``: the exact path on every line."""
    keep_records: bool = False
    """Keep every record (``RolloutTallies.records``), parsed once, for the checks that train
    on them."""


@dataclass(frozen=True, slots=True)
class Block:
    """A piece of a decompressed stream (``gymcheck.scan_stream``), which travels to a worker
    as one ``bytes``: whole lines, or one line over the cap."""

    data: bytes
    """Whole lines; the stream's last line may lack its newline."""
    oversize: int = 0
    """Instead of ``data``: one line over the cap, this many bytes, skipped unread."""


def block_lines(block: Block, max_line_bytes: int) -> Iterator[RawLine]:
    """The block's lines, numbered from 1, as ``read_lines`` reads them from the stream."""
    if block.oversize:
        yield RawLine(1, b"", True, block.oversize, oversize=block.oversize)
    else:
        yield from read_lines(io.BytesIO(block.data), max_line_bytes=max_line_bytes)


@dataclass(slots=True)
class RangeResult:
    scan: ScanResult
    records: int


def add_file(
    result: ScanResult, path: Path, parts: Sequence[RangeResult], *, read_to_end: bool = True
) -> None:
    """Merge one file's range results, in order; a file read to its end without a record is
    a finding."""
    for part in parts:
        result.merge(part.scan)
    if read_to_end and sum(part.records for part in parts) == 0:
        result.tallies.collection.add_file_finding(
            Location(source=str(path)).finding(
                SCHEMA, "the file is empty: it holds no rollout records", fix=FIX_LINE
            )
        )


def count_range(where: Range, max_line_bytes: int) -> tuple[int, int]:
    """``(lines, records)`` in the range: where the next range starts counting."""
    return count_lines(where.path, where.start, where.end, max_line_bytes=max_line_bytes)


def located(ranges: Sequence[Range], counts: Iterable[tuple[int, int]]) -> list[Range]:
    """``ranges`` (of one file, in order) with their first line and record, from each range's
    ``count_range``; findings are then created at their file position."""
    result, lines, records = [], 0, 0
    for where, (range_lines, range_records) in zip(ranges, counts, strict=True):
        result.append(Range(where.path, where.start, where.end, lines, records))
        lines += range_lines
        records += range_records
    return result


def placed(parts: Iterable[RangeResult]) -> Iterator[RangeResult]:
    """The results of a file's consecutive ranges, each scanned from line 1 and record 0
    (``Range``'s defaults), in order, their findings shifted to their file position. No
    range then waits for a count of the lines before it: that count is a pass over the
    whole file that one worker never makes (6% of the fast scan's CPU time even with
    ``count_lines``, and more as the per-line work gets cheaper)."""
    lines = records = 0
    for part in parts:
        tallies = part.scan.tallies
        for store in (tallies.collection.findings, tallies.continuity.findings):
            store.shift(lines, records)
        lines += part.scan.lines
        records += part.records
        yield part


def scan_range(
    where: Range, tokenizer: Any, options: Options, progress: Progress | None
) -> RangeResult:
    """One pass over the range's records; each finding is created at its file line."""
    lines = iter_lines(where.path, where.start, where.end, max_line_bytes=options.max_line_bytes)
    return scan_lines(lines, where, tokenizer, options, progress)


def scan_lines(
    lines: Iterable[RawLine],
    where: Range,
    tokenizer: Any,
    options: Options,
    progress: Progress | None,
) -> RangeResult:
    """The records of ``lines`` (numbered from 1 within ``where``), each checked once."""
    source = str(where.path)
    rollouts = RolloutPass(
        tokenizer=tokenizer,
        reward_range=options.reward_range,
        tallies=RolloutTallies.bounded(
            spool=options.spool_findings, keep_records=options.keep_records
        ),
    )
    records = 0
    reported = where.start
    number = where.first_line
    for line in lines:
        number = where.first_line + line.number
        if progress is not None and line.end_offset - reported >= PROGRESS_EVERY:
            progress(line.end_offset - reported)
            reported = line.end_offset
        if line.blank:
            continue
        index = where.first_record + records
        records += 1
        if options.fast and not line.oversize:
            clean = prove_clean(
                line.data, reward_range=options.reward_range, vocab_size=rollouts.vocab_size
            )
            if clean is not None:
                rollouts.add_clean(clean.turns, reward=clean.reward)
                if rollouts.tallies.records is not None:  # proven clean: it parses
                    rollouts.tallies.records.append(parse_line(line)[0])
                continue
        at = Location(source=source, line=number, rollout_index=index)
        record, error = parse_line(line)
        if error is not None:
            rollouts.add_unreadable(at.finding(SCHEMA, error, fix=FIX_LINE))
            continue
        rollouts.add_record(record, at=at, raw=line.data)
    scan = ScanResult(
        rollouts.tallies, bytes=where.end - where.start, lines=number - where.first_line
    )
    if progress is not None and where.end > reported:
        progress(where.end - reported)
    return RangeResult(scan, records)


# --- in a pool worker ---------------------------------------------------------------------

_worker_tokenizer: Any = None


def init_worker(tokenizer: Any) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tokenizer


def scan_range_in_worker(where: Range, options: Options) -> RangeResult:
    return scan_range(where, _worker_tokenizer, options, None)


def scan_block_in_worker(block: Block, where: Range, options: Options) -> RangeResult:
    lines = block_lines(block, options.max_line_bytes)
    return scan_lines(lines, where, _worker_tokenizer, options, None)
