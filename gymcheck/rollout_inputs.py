"""Where a run's rollouts come from: records in memory, JSONL files, or a Gym collection.

Each is a ``RolloutInput`` (``gymcheck.checks.context``): ``read`` makes the one pass that both
rollout checks read, and gives the records it read to the checks that train on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymcheck.checks.context import CheckOptions, RolloutReading
from gymcheck.checks.rollout_pass import RolloutPass
from gymcheck.errors import UsageError
from gymcheck.jsonl import DEFAULT_MAX_LINE_BYTES
from gymcheck.progress import StepProgress
from gymcheck.report import Finding


@dataclass(slots=True)
class RecordList:
    """Rollout records held in memory, plus the rollouts that never became records."""

    items: Sequence[Any]
    failed: Sequence[Finding] = ()
    """One finding per rollout that could not be collected."""

    def __post_init__(self) -> None:
        # The pass and the checks that train read the same records: an iterator is read once.
        if not isinstance(self.items, Sequence):
            self.items = list(self.items)

    def read(self, tokenizer: Any, options: CheckOptions, *, keep_records: bool) -> RolloutReading:
        """The pass over the records in memory; they are the records given (whatever
        ``keep_records``)."""
        rollouts = RolloutPass(
            tokenizer=tokenizer, reward_range=options.reward_range, vocab_size=options.vocab_size
        )
        for finding in self.failed:
            rollouts.add_unreadable(finding)
        rollouts.add_records(self.items)
        return RolloutReading(*rollouts.tallies.results(), self.items)


@dataclass(slots=True)
class RolloutFiles:
    """Rollout JSONL files, streamed through one pass (``gymcheck.scan``), which keeps the
    records it parsed when the checks that train on them need them."""

    paths: Sequence[Path]
    workers: int = 1
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    progress: Callable[[int], None] | None = None
    """Called with the bytes scanned since the last call."""
    spool_findings: bool = False
    """Spool every finding to disk for the JSON report (the console keeps a bounded few)."""
    ray: str | None = None
    """Scan on a Ray cluster at this address (``gymcheck rollouts --ray``)."""

    def read(self, tokenizer: Any, options: CheckOptions, *, keep_records: bool) -> RolloutReading:
        """The scan's pass (the vocabulary comes from the tokenizer only); ``keep_records``
        parses every line once, on the exact path, and keeps what it parsed."""
        from gymcheck.scan import scan

        try:
            result = scan(
                self.paths,
                tokenizer=tokenizer,
                reward_range=options.reward_range,
                workers=self.workers,
                progress=self.progress,
                max_line_bytes=self.max_line_bytes,
                spool_findings=self.spool_findings,
                ray=self.ray,
                keep_records=keep_records,
            )
        except OSError as exc:
            raise UsageError(f"cannot read rollouts: {exc.strerror or exc}") from None
        return RolloutReading(*result.results(), result.tallies.records)


@dataclass(slots=True)
class GymCollection:
    """Rollouts collected through a NeMo Gym head server, on first use."""

    gym_url: str
    rows: Sequence[Any]
    agent: str | None = None
    timeout: float = 120.0
    progress: StepProgress | None = None
    save_to: Path | None = None
    """Write the collected rollouts here as JSONL, as NeMo Gym's rollout collection does."""
    _collected: RecordList | None = field(default=None, init=False)

    def read(self, tokenizer: Any, options: CheckOptions, *, keep_records: bool) -> RolloutReading:
        return self._collect().read(tokenizer, options, keep_records=keep_records)

    def _collect(self) -> RecordList:
        if self._collected is None:
            from gymcheck.collect import collect_rollouts

            progress = self.progress
            collection = collect_rollouts(
                self.gym_url,
                self.rows,
                agent=self.agent,
                timeout=self.timeout,
                progress=(lambda done, total: progress("Collecting rollouts", done, total))
                if progress
                else None,
            )
            if self.save_to is not None:
                _write_jsonl(self.save_to, collection.records)
            self._collected = RecordList(collection.records, collection.findings)
        return self._collected


def _write_jsonl(path: Path, records: Sequence[Any]) -> None:
    import orjson

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")
