"""The closing line of a run, in words, for every renderer that shows one.

Four outcomes (DESIGN.md section 1): every check passed; a partial validation (every check that
ran passed, some required check did not run); a failure; gymcheck itself failing in a check.
"""

from __future__ import annotations

from typing import Literal

from gymcheck.report import Report

Outcome = Literal["passed", "partial", "failed", "errored"]

ALL_PASSED = "All validations passed! Your integration is ready."
FAILED = "Some validations failed. Review the errors above."
ERRORED = "A check could not complete: gymcheck itself failed (the traceback's log is named above)."
HEADLINES: dict[Outcome, str] = {
    "passed": "All validations passed",
    "partial": "Partial validation: every check that ran passed",
    "failed": "Some validations failed",
    "errored": "A check could not complete",
}


def outcome(report: Report) -> Outcome:
    if report.failed:
        return "failed"
    if report.errored:
        return "errored"
    return "partial" if report.partial else "passed"


def not_run_text(report: Report) -> str:
    """``http_endpoint (no --base-url: …); …``: each required check that did not run, and why."""
    not_run = set(report.not_run)
    return "; ".join(f"{c.id} ({c.summary})" for c in report.checks if c.id in not_run)


def closing_line(report: Report) -> str:
    kind = outcome(report)
    if kind == "passed":
        return ALL_PASSED
    if kind == "partial":
        return f"{HEADLINES['partial']}. Not run: {not_run_text(report)}."
    head = FAILED if kind == "failed" else ERRORED
    return head + (f" Not run: {not_run_text(report)}." if report.partial else "")
