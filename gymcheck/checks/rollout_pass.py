"""One pass over the rollouts: the record checks and continuity share one inspection per record.

``RolloutPass.add_record`` inspects a record at its location (the record-level findings, its
turns and where each turn's prompt stops extending the previous one), diagnoses the breaks, and
tallies both ``rollout_collection`` and ``token_continuity`` from that one inspection. In-memory
records (the suite, the library) and streamed files (``gymcheck.scan``) go through it alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gymcheck.checks import collection, continuity
from gymcheck.checks.collection import CollectionTally
from gymcheck.checks.continuity import ContinuityTally, diagnose_breaks
from gymcheck.checks.records import RewardRange, inspect_record
from gymcheck.finding_store import KEEP_PER_GROUP, FindingStore
from gymcheck.report import NOWHERE, CheckResult, Finding, Location

ROLLOUT_CHECKS = (collection.CHECK_ID, continuity.CHECK_ID)
"""The checks that read this one pass, in order (``gymcheck rollouts`` runs just these)."""


@dataclass(slots=True)
class RolloutTallies:
    """Both rollout checks' counts and findings; tallies of parts of a file merge."""

    collection: CollectionTally = field(default_factory=CollectionTally)
    continuity: ContinuityTally = field(default_factory=ContinuityTally)
    records: list[Any] | None = None
    """Every record as read, in order, when the pass keeps them for the checks that train on
    them (``None``: not kept, memory stays flat)."""

    @classmethod
    def bounded(cls, *, spool: bool, keep_records: bool = False) -> RolloutTallies:
        """Tallies that keep the first findings of each kind and count the rest; ``spool``
        writes them all to disk for a report that lists every one."""
        return cls(
            CollectionTally(findings=FindingStore(keep=KEEP_PER_GROUP, spool=spool)),
            ContinuityTally(findings=FindingStore(keep=KEEP_PER_GROUP, spool=spool)),
            [] if keep_records else None,
        )

    def merge(self, other: RolloutTallies) -> None:
        self.collection.merge(other.collection)
        self.continuity.merge(other.continuity)
        if self.records is not None and other.records is not None:
            self.records.extend(other.records)

    def results(self) -> tuple[CheckResult, CheckResult]:
        """The ``rollout_collection`` and ``token_continuity`` results."""
        return self.collection.result(), self.continuity.result()


@dataclass(slots=True)
class RolloutPass:
    """Feeds each record once through the record checks and the continuity diagnosis."""

    tokenizer: Any = None
    """Decodes breaks to name their cause, and bounds ids by its vocabulary (``None``: neither)."""
    reward_range: RewardRange = (0.0, 1.0)
    tallies: RolloutTallies = field(default_factory=RolloutTallies)
    vocab_size: int | None = None
    """Bounds the ids without a tokenizer (a tokenizer's own vocabulary wins)."""

    def __post_init__(self) -> None:
        if self.tokenizer is not None and hasattr(self.tokenizer, "__len__"):
            self.vocab_size = len(self.tokenizer)  # a decode-only tokenizer bounds nothing

    def add_record(self, record: Any, *, at: Location = NOWHERE, raw: bytes | None = None) -> None:
        """Inspect one record; ``raw`` (its JSON line) lets continuity be proven on the bytes."""
        if self.tallies.records is not None:
            self.tallies.records.append(record)
        inspection = inspect_record(
            record, reward_range=self.reward_range, vocab_size=self.vocab_size, raw=raw, at=at
        )
        turns = inspection.turns
        outputs = sum(1 for t in turns if t.generation_token_ids) if turns else 0
        self.tallies.collection.add(
            inspection.findings, trainable_outputs=outputs, reward=inspection.reward
        )
        if not turns:
            return
        breaks: list[Finding] = []
        if any(b is not None for b in inspection.breaks):
            breaks = diagnose_breaks(record, turns, inspection.breaks, self.tokenizer, at=at)
        self.tallies.continuity.add(turns, breaks)

    def add_clean(self, turns: int, *, reward: float) -> None:
        """A record proven free of findings without being inspected (``gymcheck.fastscan``):
        counted as ``add_record`` would count it."""
        self.tallies.collection.add([], trainable_outputs=turns, reward=reward)
        self.tallies.continuity.add_clean(turns)

    def add_records(self, records: Iterable[Any], *, source: str | None = None) -> None:
        """Records in order; each is located by its 0-based index."""
        for index, record in enumerate(records):
            self.add_record(record, at=Location(source=source, rollout_index=index))

    def add_unreadable(self, finding: Finding) -> None:
        """A rollout that never became a record (a line that is not JSON, a failed collection)."""
        self.tallies.collection.add([finding])

    def add_file_finding(self, finding: Finding) -> None:
        """A finding about a whole file (e.g. empty) rather than one rollout."""
        self.tallies.collection.add_file_finding(finding)
