"""GitHub Actions workflow commands: one annotation line per finding, and per failed check.

``::error file=rollouts.jsonl,line=17,title=continuity_break (reasoning_stripped)::…`` shows
on the pull request at that line; findings without a file annotate the run.
"""

from __future__ import annotations

from gymcheck.redact import redact
from gymcheck.render.location import finding_label, locate
from gymcheck.report import CheckResult, Finding, Report, Status

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, message: str, **properties: str | int | None) -> str:
    fields = ",".join(f"{k}={_property(str(v))}" for k, v in properties.items() if v is not None)
    return redact(f"::{level}{' ' + fields if fields else ''}::{_data(message)}")


def finding_line(check: CheckResult, finding: Finding) -> str:
    """One finding as an annotation: an ``error`` only where it fails its check."""
    level = LEVELS.get(finding.severity, "notice")
    if level == "error" and check.status not in (Status.FAIL, Status.ERROR):
        level = "warning"
    where = locate(finding)
    message = (f"{where}: " if where else "") + finding.message
    if finding.fix:
        message += f"\nfix: {finding.fix}"
    title = f"{check.id}: {finding_label(finding.code, finding.cause)}"
    return _command(level, message, file=finding.source, line=finding.line, title=title)


def check_lines(check: CheckResult) -> list[str]:
    """The check's annotations: its findings, or one line when it failed without any."""
    lines = [finding_line(check, finding) for finding in check.findings]
    if not lines and check.status in (Status.FAIL, Status.ERROR):
        lines.append(_command("error", check.summary, title=f"{check.id} {check.status.value}"))
    return lines


def render(report: Report) -> str:
    """Every check's annotation lines, in check order."""
    return "".join(line + "\n" for check in report.checks for line in check_lines(check))
