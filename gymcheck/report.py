"""The results of a run: findings, check results and the report that holds them.

Checks produce these; renderers (``gymcheck.render``) only read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]

REPORT_TITLE = "Training Framework Integration Validation"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"

    @property
    def ok(self) -> bool:
        """Whether this status lets a required check count as passed."""
        return self in (Status.PASS, Status.WARN)


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE_ERROR = 2
    INTERNAL_ERROR = 3


@dataclass(slots=True)
class Finding:
    """One named defect, located as precisely as the evidence allows."""

    code: str
    message: str
    severity: Severity = "error"
    source: str | None = None
    line: int | None = None
    rollout_index: int | None = None
    cause: str | None = None
    turn: int | None = None
    token_index: int | None = None
    expected: str | None = None
    actual: str | None = None
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}


@dataclass(frozen=True, slots=True)
class Location:
    """Where a record came from, given to each finding as it is created.

    ``source`` is the file (or Gym URL), ``line`` is 1-based in it, ``rollout_index`` 0-based.
    """

    source: str | None = None
    line: int | None = None
    rollout_index: int | None = None

    def finding(self, code: str, message: str, **fields: Any) -> Finding:
        """A ``Finding`` at this location."""
        return Finding(
            code,
            message,
            source=self.source,
            line=self.line,
            rollout_index=self.rollout_index,
            **fields,
        )


NOWHERE = Location()
"""A record checked on its own, outside any file or list."""


@dataclass(slots=True)
class Step:
    """One sub-result of a check, e.g. a sub-check of ``http_endpoint``.

    ``name`` is stable (renderers and tests key on it) and ``data`` holds what was measured.
    The sentence a person reads is written render-side, in ``gymcheck.render.words``.
    """

    name: str
    status: Status
    message: str = ""
    """Prose written inside the check: only for checks whose words are not render-side yet."""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "data": self.data}


@dataclass(slots=True)
class CheckResult:
    id: str
    status: Status
    summary: str
    required: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    duration_s: float | None = None

    @property
    def passed(self) -> bool:
        return self.status.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "required": self.required,
            "summary": self.summary,
            "details": self.details,
            "steps": [s.to_dict() for s in self.steps],
            "duration_s": self.duration_s,
        }


@dataclass(slots=True)
class Report:
    checks: list[CheckResult] = field(default_factory=list)
    title: str = REPORT_TITLE

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.checks for f in c.findings]

    @property
    def passed(self) -> bool:
        """Every required check passed (``warn`` counts) and nothing ended in ``error``."""
        return all(
            c.status is not Status.ERROR and (c.passed or not c.required) for c in self.checks
        ) and not any(c.required and c.status is Status.SKIP for c in self.checks)

    def exit_code(self) -> ExitCode:
        if any(c.status is Status.ERROR for c in self.checks):
            return ExitCode.INTERNAL_ERROR
        return ExitCode.OK if self.passed else ExitCode.FAILED

    def to_dict(self) -> dict[str, Any]:
        from gymcheck import __version__

        return {
            "gymcheck_version": __version__,
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
            "findings": [f.to_dict() for f in self.findings],
        }
