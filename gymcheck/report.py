"""The results of a run: findings, check results and the report that holds them.

Checks produce these; renderers (``gymcheck.render``) only read them.

Indexing is the same everywhere (JSON, console, JUnit, HTML): ``rollout_index`` is 0-based
(the position of the record among those checked), ``line`` and ``turn`` are 1-based (the JSONL
line; the trainable item of the rollout), ``token_index`` is 0-based (the position in the token
sequence).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any, Literal

import orjson

if TYPE_CHECKING:
    from gymcheck.finding_store import FindingStore

Severity = Literal["error", "warning", "info"]

REPORT_TITLE = "Training Framework Integration Validation"


class Status(StrEnum):
    """How a check ended: pass, fail, warn, skip or error (DESIGN.md section 1)."""

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
    """The process exit codes (DESIGN.md section 2)."""

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
        """The JSON object of ``--json``'s ``findings``: fields that are set, JSON types only."""
        loaded: dict[str, Any] = orjson.loads(self.to_json_bytes())
        return loaded

    def to_json_bytes(self) -> bytes:
        """``to_dict()`` serialized, without building it first: a scan may write millions."""
        data = {}
        for name in _FINDING_FIELDS:
            value = getattr(self, name)
            if value is not None and value != {}:
                data[name] = value
        return orjson.dumps(data, default=_fallback, option=_PLAIN_OPTIONS)

    def __repr__(self) -> str:
        where = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("cause", "source", "line", "rollout_index", "turn", "token_index")
            if getattr(self, name) is not None
        )
        return f"Finding({self.code!r}{', ' + where if where else ''})"


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
_PLAIN_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


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
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The step's JSON object: its stable name, status and measured data."""
        return {"name": self.name, "status": self.status.value, "data": self.data}


@dataclass(slots=True, repr=False)
class CheckResult:
    """What one check found: its status, a one-line summary, structured details and findings.

    ``metrics`` flattens the numeric details for a logger (``wandb.log(result.metrics)``);
    ``to_dict()`` / ``to_json()`` give the JSON of ``--json``.
    """

    id: str
    status: Status
    summary: str
    required: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    duration_s: float | None = None
    series: dict[str, list[float]] = field(default_factory=dict, compare=False)
    """Per-token values for plots (e.g. ``gen`` and ``train`` log-probs); not in the JSON."""
    finding_store: FindingStore | None = field(default=None, compare=False)
    """When set, ``findings`` holds only the first of each (code, cause): the store counts them
    all and streams them (``finding_dicts``) to the JSON report."""

    @property
    def findings_total(self) -> int:
        """Every finding of the check, those the store counted without keeping included."""
        return len(self.finding_store) if self.finding_store is not None else len(self.findings)

    def finding_counts(self) -> Counter[tuple[str, str | None]]:
        """How many findings of each (code, cause), kept or not."""
        if self.finding_store is not None:
            return Counter(self.finding_store.counts)
        return Counter((f.code, f.cause) for f in self.findings)

    def finding_dicts(self) -> Iterator[dict[str, Any]]:
        """Every finding's JSON object, kept or only stored."""
        if self.finding_store is not None:
            yield from self.finding_store.dicts()
        else:
            yield from (f.to_dict() for f in self.findings)

    def finding_json_lines(self) -> Iterator[bytes]:
        """Every finding as one compact line of JSON, for streaming writers."""
        if self.finding_store is not None:
            yield from self.finding_store.json_lines()
        else:
            yield from (f.to_json_bytes() for f in self.findings)

    @property
    def passed(self) -> bool:
        """Whether the status lets a required check count as passed (``pass`` or ``warn``)."""
        return self.status.ok

    @property
    def metrics(self) -> dict[str, float | int]:
        """The numeric details as one flat dict (nested keys joined by ``.``), for logging.

        Always has ``passed`` (0/1), ``findings`` and, when timed, ``duration_s``.
        """
        flat: dict[str, float | int] = {"passed": int(self.passed), "findings": self.findings_total}
        if self.duration_s is not None:
            flat["duration_s"] = self.duration_s
        _flatten_numbers(self.details, "", flat)
        return flat

    def to_dict(self, *, findings: bool = True) -> dict[str, Any]:
        """The JSON object of one check; ``findings=False`` leaves them to the report's list."""
        data: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "required": self.required,
            "summary": self.summary,
            "details": plain(self.details),
            "steps": [s.to_dict() for s in self.steps],
            "duration_s": self.duration_s,
        }
        if findings:
            data["findings"] = list(self.finding_dicts())
        return data

    def to_json(self) -> str:
        """``to_dict()`` as a JSON string."""
        return orjson.dumps(self.to_dict()).decode()

    def __repr__(self) -> str:
        summary = self.summary if len(self.summary) <= 60 else self.summary[:59] + "…"
        return (
            f"CheckResult({self.id!r}, {self.status.value}, findings={self.findings_total}, "
            f"summary={summary!r})"
        )


@dataclass(slots=True)
class RunInfo:
    """How a report came about, for the people who read it: shown by the HTML and JSON."""

    command: str
    """The command line, secrets redacted."""
    target: str | None = None
    """What was validated: a base URL, rollout files, the embedded stack."""
    started_at: str | None = None
    """ISO 8601, UTC."""
    duration_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``run`` object of the JSON report: the fields that are known."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(slots=True, repr=False)
class Report:
    """The results of one run, in check order; every renderer reads only this."""

    checks: list[CheckResult] = field(default_factory=list)
    title: str = REPORT_TITLE
    run: RunInfo | None = None

    @property
    def findings(self) -> list[Finding]:
        """Every check's kept findings, in check order (``findings_total`` counts them all)."""
        return [f for c in self.checks for f in c.findings]

    @property
    def findings_total(self) -> int:
        """Every finding of every check, kept or only counted."""
        return sum(c.findings_total for c in self.checks)

    @property
    def metrics(self) -> dict[str, float | int]:
        """Each check's ``metrics`` under ``"<check id>/"``, plus ``passed``: one dict to log."""
        flat: dict[str, float | int] = {"passed": int(self.passed)}
        for check in self.checks:
            flat.update({f"{check.id}/{k}": v for k, v in check.metrics.items()})
        return flat

    @property
    def not_run(self) -> list[str]:
        """The required checks that were skipped: their input was not given."""
        return [c.id for c in self.checks if c.required and c.status is Status.SKIP]

    @property
    def partial(self) -> bool:
        """A partial validation: some required check did not run (DESIGN.md section 1)."""
        return bool(self.not_run)

    @property
    def failed(self) -> bool:
        """A required check failed (``warn`` passes; an optional check's ``fail`` fails nothing)."""
        return any(c.required and c.status is Status.FAIL for c in self.checks)

    @property
    def errored(self) -> bool:
        """A check ended in ``error``: gymcheck itself failed."""
        return any(c.status is Status.ERROR for c in self.checks)

    @property
    def passed(self) -> bool:
        """Every check that ran passed or is optional, and nothing ended in ``error``.

        A required check that did not run fails nothing: the run is ``partial`` instead.
        """
        return not self.failed and not self.errored

    def exit_code(self) -> ExitCode:
        """The one exit-code policy of a validation run (DESIGN.md section 2)."""
        if self.errored:
            return ExitCode.INTERNAL_ERROR
        return ExitCode.OK if self.passed else ExitCode.FAILED

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` report (DESIGN.md section 2): version, verdict, checks, findings, run."""
        data = self.to_dict_without_findings()
        data["findings"] = [d for c in self.checks for d in c.finding_dicts()]
        return data

    def to_dict_without_findings(self) -> dict[str, Any]:
        """``to_dict()`` less ``findings``, for writers that stream them."""
        from gymcheck import __version__

        data: dict[str, Any] = {
            "gymcheck_version": __version__,
            "passed": self.passed,
            "partial": self.partial,
            "not_run": self.not_run,
            "checks": [c.to_dict(findings=False) for c in self.checks],
        }
        if self.run is not None:
            data["run"] = self.run.to_dict()
        return data

    def to_json(self) -> str:
        """``to_dict()`` as a JSON string."""
        return orjson.dumps(self.to_dict()).decode()

    def __repr__(self) -> str:
        return (
            f"Report(passed={self.passed}, checks={len(self.checks)}, "
            f"findings={self.findings_total})"
        )


def plain(value: Any) -> Any:
    """``value`` with JSON types only: tuples become lists, numpy scalars numbers, other
    objects their ``str``; non-finite floats stay (orjson writes them as ``null``)."""
    return orjson.loads(
        orjson.dumps(
            value,
            default=_fallback,
            option=_PLAIN_OPTIONS,
        )
    )


def _fallback(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        return item()
    return str(value)


def _flatten_numbers(value: Any, key: str, into: dict[str, float | int]) -> None:
    """Numbers and booleans (as 0/1) under ``key``; dicts recurse with ``key.inner``."""
    if isinstance(value, dict):
        for inner, item in value.items():
            _flatten_numbers(item, f"{key}.{inner}" if key else str(inner), into)
    elif isinstance(value, bool):
        into[key] = int(value)
    elif isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        into[key] = value
