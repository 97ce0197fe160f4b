"""The ``rollout_collection`` check: Gym returned rollouts a trainer can use.

Each rollout needs a ``response.output``, a finite reward inside the configured range, and at
least one output item with non-empty ``generation_token_ids``; ``check_record`` finds the rest.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gymcheck.checks.context import CheckContext, CheckOptions
from gymcheck.checks.records import RewardRange
from gymcheck.checks.registry import check
from gymcheck.finding_store import FindingStore
from gymcheck.report import CheckResult, Finding, Status, Step

CHECK_ID = "rollout_collection"


@dataclass(slots=True)
class CollectionTally:
    """Collection over many rollouts, built one rollout at a time; tallies merge."""

    rollouts: int = 0
    clean_rollouts: int = 0
    trainable_outputs: int = 0
    rewards: int = 0
    reward_sum: float = 0.0
    reward_min: float = math.inf
    reward_max: float = -math.inf
    codes: Counter[str] = field(default_factory=Counter)
    findings: FindingStore = field(default_factory=FindingStore)
    """Counted all, the first of each code kept (``FindingStore``)."""

    def add(
        self, findings: list[Finding], *, trainable_outputs: int = 0, reward: float | None = None
    ) -> None:
        """Count one rollout (or one line that could not become one) and its findings."""
        self.rollouts += 1
        self.trainable_outputs += trainable_outputs
        if reward is not None:
            self.rewards += 1
            self.reward_sum += reward
            self.reward_min = min(self.reward_min, reward)
            self.reward_max = max(self.reward_max, reward)
        if findings:
            self.codes.update(f.code for f in findings)
            self.findings.extend(findings)
        else:
            self.clean_rollouts += 1

    def add_file_finding(self, finding: Finding) -> None:
        """A finding about a whole file (e.g. empty) rather than one rollout."""
        self.codes[finding.code] += 1
        self.findings.append(finding, always_keep=True)

    def merge(self, other: CollectionTally) -> None:
        self.rollouts += other.rollouts
        self.clean_rollouts += other.clean_rollouts
        self.trainable_outputs += other.trainable_outputs
        self.rewards += other.rewards
        self.reward_sum += other.reward_sum
        self.reward_min = min(self.reward_min, other.reward_min)
        self.reward_max = max(self.reward_max, other.reward_max)
        self.codes.update(other.codes)
        self.findings.merge(other.findings)

    def result(self) -> CheckResult:
        details: dict[str, Any] = {
            "rollouts": self.rollouts,
            "rollouts_clean": self.clean_rollouts,
            "trainable_outputs": self.trainable_outputs,
            "codes": dict(sorted(self.codes.items())),
        }
        if self.rewards:
            details["reward"] = {
                "mean": self.reward_sum / self.rewards,
                "min": self.reward_min,
                "max": self.reward_max,
            }
        if self.rollouts == 0:
            summary = "no rollouts: nothing was collected"
            steps = [Step("rollouts", Status.FAIL, data={"rollouts": 0})]
            return self.findings.result(
                CHECK_ID, Status.FAIL, summary, details=details, steps=steps
            )
        steps = self._steps()
        if self.findings:
            bad = self.rollouts - self.clean_rollouts
            codes = ", ".join(f"{code} ×{n}" for code, n in self.codes.most_common())
            summary = f"{bad} of {self.rollouts} rollouts have findings ({codes})"
            codes_seen = dict(self.codes.most_common())
            steps.append(
                Step(
                    "findings",
                    Status.FAIL,
                    data={"bad": bad, "rollouts": self.rollouts, "codes": codes_seen},
                )
            )
            return self.findings.result(
                CHECK_ID, Status.FAIL, summary, details=details, steps=steps
            )
        summary = (
            f"{self.rollouts} rollouts collected"
            if self.rollouts > 1
            else "Rollout collected successfully"
        )
        return CheckResult(CHECK_ID, Status.PASS, summary, details=details, steps=steps)

    def _steps(self) -> list[Step]:
        # The guide's three lines for one rollout; their aggregate (with min, max and a rate)
        # for many.
        single = self.rollouts == 1 and self.clean_rollouts == 1
        steps = [
            Step(
                "collected",
                Status.PASS if self.clean_rollouts else Status.FAIL,
                data={"clean": self.clean_rollouts, "rollouts": self.rollouts},
            )
        ]
        if self.rewards:
            reward: dict[str, Any] = {"mean": self.reward_sum / self.rewards}
            if not single:
                reward |= {"min": self.reward_min, "max": self.reward_max}
            steps.append(Step("reward", Status.PASS, data=reward))
        steps.append(
            Step(
                "trainable_outputs",
                Status.PASS,
                data={"count": self.trainable_outputs}
                if single
                else {
                    "count": self.trainable_outputs,
                    "per_rollout": self.trainable_outputs / self.rollouts,
                },
            )
        )
        return steps


@check(CHECK_ID, order=30, required=True, needs=("rollouts",))
def rollout_collection(ctx: CheckContext) -> CheckResult:
    """The collection half of the context's one pass over the rollouts (``RolloutPass``)."""
    collection, _ = ctx.rollout_results()
    return collection


def check_rollout_collection(
    records: Iterable[Mapping[str, Any]],
    *,
    reward_range: RewardRange = (0.0, 1.0),
    vocab_size: int | None = None,
) -> CheckResult:
    """The ``rollout_collection`` check; each finding carries its record's ``rollout_index``."""
    from gymcheck.rollout_inputs import RecordList

    options = CheckOptions(reward_range=reward_range, vocab_size=vocab_size)
    return rollout_collection(CheckContext(rollouts=RecordList(list(records)), options=options))
