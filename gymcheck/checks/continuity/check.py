"""The ``token_continuity`` check: a tally of breaks and causes over many rollouts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymcheck.checks.continuity.detect import find_breaks
from gymcheck.checks.continuity.diagnose import diagnose_breaks
from gymcheck.errors import RolloutFormatError
from gymcheck.report import CheckResult, Finding, Status, Step
from gymcheck.rollout import Turn, trainable_turns

CHECK_ID = "token_continuity"


@dataclass(slots=True)
class ContinuityTally:
    """Continuity over many rollouts, built one rollout at a time; tallies merge."""

    rollouts: int = 0
    turns: int = 0
    broken_rollouts: int = 0
    breaks: int = 0
    causes: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def add(self, turns: Sequence[Turn], findings: Sequence[Finding]) -> None:
        self.rollouts += 1
        self.turns += len(turns)
        if findings:
            self.broken_rollouts += 1
            self.breaks += len(findings)
            self.causes.update(f.cause or "unknown" for f in findings)
            self.findings.extend(findings)

    def merge(self, other: ContinuityTally) -> None:
        self.rollouts += other.rollouts
        self.turns += other.turns
        self.broken_rollouts += other.broken_rollouts
        self.breaks += other.breaks
        self.causes.update(other.causes)
        self.findings.extend(other.findings)

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
        if not self.breaks:
            line = f"Token continuity validated across {self.turns} turns"
            return CheckResult(
                CHECK_ID,
                Status.PASS,
                line,
                details=details,
                steps=[Step("continuity", Status.PASS, line)],
            )
        causes = ", ".join(f"{cause} ×{n}" for cause, n in self.causes.most_common())
        summary = f"{self.broken_rollouts} of {self.rollouts} rollouts break continuity"
        step = f"Token continuity broken at {self.breaks} of {self.turns} turns ({causes})"
        return CheckResult(
            CHECK_ID,
            Status.FAIL,
            summary,
            details=details,
            steps=[Step("continuity", Status.FAIL, step)],
            findings=list(self.findings),
        )


def check_token_continuity(
    records: Iterable[Mapping[str, Any]], *, tokenizer: Any = None
) -> CheckResult:
    """The ``token_continuity`` check over ``records``; findings carry ``rollout_index``."""
    tally = ContinuityTally()
    for position, record in enumerate(records):
        try:
            turns = trainable_turns(record)
            breaks = find_breaks(turns)
        except (RolloutFormatError, TypeError):
            continue
        if not turns:
            continue
        findings = []
        if any(b is not None for b in breaks):
            findings = diagnose_breaks(record, turns, breaks, tokenizer)
            for finding in findings:
                finding.rollout_index = position
        tally.add(turns, findings)
    return tally.result()
