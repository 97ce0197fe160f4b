"""The ``token_continuity`` check: a tally of breaks and causes over many rollouts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymcheck.checks.context import CheckContext
from gymcheck.checks.registry import check
from gymcheck.finding_store import FindingStore
from gymcheck.report import CheckResult, Finding, Status, Step
from gymcheck.rollout import Turn

CHECK_ID = "token_continuity"


@dataclass(slots=True)
class ContinuityTally:
    """Continuity over many rollouts, built one rollout at a time; tallies merge."""

    rollouts: int = 0
    turns: int = 0
    broken_rollouts: int = 0
    breaks: int = 0
    causes: Counter[str] = field(default_factory=Counter)
    findings: FindingStore = field(default_factory=FindingStore)
    """Counted all, the first of each code kept (``FindingStore``)."""

    def add(self, turns: Sequence[Turn], findings: Sequence[Finding]) -> None:
        self.rollouts += 1
        self.turns += len(turns)
        if findings:
            self.broken_rollouts += 1
            self.breaks += len(findings)
            self.causes.update(f.cause or "unknown" for f in findings)
            self.findings.extend(findings)

    def add_clean(self, turns: int) -> None:
        """A rollout of ``turns`` turns proven contiguous on its bytes (``gymcheck.fastscan``)."""
        self.rollouts += 1
        self.turns += turns

    def merge(self, other: ContinuityTally) -> None:
        self.rollouts += other.rollouts
        self.turns += other.turns
        self.broken_rollouts += other.broken_rollouts
        self.breaks += other.breaks
        self.causes.update(other.causes)
        self.findings.merge(other.findings)

    def result(self) -> CheckResult:
        details: dict[str, Any] = {
            "rollouts": self.rollouts,
            "turns": self.turns,
            "rollouts_broken": self.broken_rollouts,
            "breaks": self.breaks,
            "causes": dict(sorted(self.causes.items())),
        }
        if self.rollouts == 0:
            return CheckResult(
                CHECK_ID, Status.SKIP, "no rollout with token data to check", details=details
            )
        step = {
            "turns": self.turns,
            "breaks": self.breaks,
            "causes": dict(self.causes.most_common()),
        }
        if not self.breaks:
            return CheckResult(
                CHECK_ID,
                Status.PASS,
                f"Token continuity validated across {self.turns} turns",
                details=details,
                steps=[Step("continuity", Status.PASS, data=step)],
            )
        summary = f"{self.broken_rollouts} of {self.rollouts} rollouts break continuity"
        steps = [Step("continuity", Status.FAIL, data=step)]
        return self.findings.result(CHECK_ID, Status.FAIL, summary, details=details, steps=steps)


@check(CHECK_ID, order=40, required=True, needs=("rollouts",))
def token_continuity(ctx: CheckContext) -> CheckResult:
    """The continuity half of the context's one pass over the rollouts (``RolloutPass``)."""
    _, continuity = ctx.rollout_results()
    return continuity


def check_token_continuity(
    records: Iterable[Mapping[str, Any]], *, tokenizer: Any = None
) -> CheckResult:
    """The ``token_continuity`` check over ``records``; findings carry ``rollout_index``.

    Records too malformed to have turns are left to ``rollout_collection``."""
    from gymcheck.rollout_inputs import RecordList

    return token_continuity(CheckContext(tokenizer=tokenizer, rollouts=RecordList(list(records))))
