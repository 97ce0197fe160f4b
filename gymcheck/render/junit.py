"""JUnit XML for CI systems: one testcase per check, and one per finding under its check.

Every testcase's ``classname`` is the check id, so CI groups a check's findings under it. A
finding's testcase is named by its code, cause and place, carries ``file`` and ``line`` when it
comes from a file, and holds the message, the fix and both decoded sides. An ``error`` finding
of a failing check is a ``<failure>``; warnings and notes pass, with their text in
``<system-out>`` so that they stay visible.
"""

from __future__ import annotations

import io
from typing import IO
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

from gymcheck.redact import redact
from gymcheck.render.groups import plural
from gymcheck.render.location import finding_label, locate
from gymcheck.render.words import step_text
from gymcheck.report import CheckResult, Finding, Report, Status

FAILING = (Status.FAIL, Status.ERROR)


def finding_text(finding: Finding) -> str:
    """Where, what, the fix and both decoded sides: the body CI shows for a finding."""
    lines = [finding_label(finding.code, finding.cause)]
    if where := locate(finding):
        lines.append(f"at: {where}")
    lines.append(finding.message)
    if finding.fix:
        lines.append(f"fix: {finding.fix}")
    if finding.expected is not None:
        lines.append(f"expected: {finding.expected}")
    if finding.actual is not None:
        lines.append(f"actual:   {finding.actual}")
    return "\n".join(lines)


def _check_case(check: CheckResult) -> ET.Element:
    case = ET.Element(
        "testcase", classname=check.id, name=check.id, time=f"{check.duration_s or 0:.3f}"
    )
    body = "\n".join(
        [check.summary]
        + [f"[{s.status.value}] {s.name}: {step_text(check.id, s)}" for s in check.steps]
        + (
            [plural(check.findings_total, "finding") + " (one testcase each)"]
            if check.findings_total
            else []
        )
    )
    if check.status is Status.FAIL:
        ET.SubElement(case, "failure", message=check.summary, type="fail").text = body
    elif check.status is Status.ERROR:
        ET.SubElement(case, "error", message=check.summary, type="error").text = body
    elif check.status is Status.SKIP:
        reason = f"required check not run: {check.summary}" if check.required else check.summary
        ET.SubElement(case, "skipped", message=reason)
        ET.SubElement(case, "system-out").text = body
    else:
        ET.SubElement(case, "system-out").text = body
    return case


def _finding_case(check: CheckResult, finding: Finding) -> ET.Element:
    where = locate(finding)
    name = finding_label(finding.code, finding.cause)
    attributes = {"classname": check.id, "name": f"{name} at {where}" if where else name}
    if finding.source:
        attributes["file"] = finding.source
    if finding.line is not None:
        attributes["line"] = str(finding.line)
    case = ET.Element("testcase", attributes, time="0")
    text = finding_text(finding)
    if _fails(check, finding.severity):
        ET.SubElement(case, "failure", message=finding.message, type=finding.code).text = text
    else:
        ET.SubElement(case, "system-out").text = f"[{finding.severity}] {text}"
    return case


def _fails(check: CheckResult, severity: str) -> bool:
    return severity == "error" and check.status in FAILING


def _failing_findings(check: CheckResult) -> int:
    """Findings of ``check`` that are failures, counted (a file scan keeps only the first of
    each code and cause; the first gives the severity of the rest)."""
    severity = {(f.code, f.cause): f.severity for f in reversed(check.findings)}
    return sum(
        count
        for key, count in check.finding_counts().items()
        if _fails(check, severity.get(key, "error"))
    )


def render(report: Report) -> str:
    """The report as a ``<testsuites>`` document with one ``<testsuite name="gymcheck">``,
    every secret redacted."""
    out = io.StringIO()
    write(report, out)
    return out.getvalue()


def write(report: Report, out: IO[str]) -> None:
    """``render``, streamed: one testcase at a time, findings read from wherever the checks keep
    them (memory or a file scan's spool), so a million findings never sit in memory."""
    checks = report.checks
    attributes = {"name": "gymcheck"}
    if report.run is not None and report.run.started_at:
        attributes["timestamp"] = report.run.started_at
    failures = sum(c.status is Status.FAIL for c in checks) + sum(map(_failing_findings, checks))
    attributes |= {
        "tests": str(len(checks) + sum(c.findings_total for c in checks)),
        "failures": str(failures),
        "errors": str(sum(c.status is Status.ERROR for c in checks)),
        "skipped": str(sum(c.status is Status.SKIP for c in checks)),
        "time": f"{sum(c.duration_s or 0.0 for c in checks):.3f}",
    }
    opening = " ".join(f"{key}={quoteattr(value)}" for key, value in attributes.items())
    out.write("<?xml version='1.0' encoding='utf-8'?>\n<testsuites name=\"gymcheck\">\n")
    out.write(redact(f"  <testsuite {opening}>\n"))
    if report.run is not None:
        properties = ET.Element("properties")
        for key, value in report.run.to_dict().items():
            ET.SubElement(properties, "property", name=key, value=str(value))
        _write_element(out, properties)
    for check in checks:
        _write_element(out, _check_case(check))
        for data in check.finding_dicts():
            _write_element(out, _finding_case(check, Finding(**data)))
    out.write("  </testsuite>\n</testsuites>\n")


def _write_element(out: IO[str], element: ET.Element) -> None:
    ET.indent(element, space="  ", level=2)
    out.write(redact("    " + ET.tostring(element, encoding="unicode").rstrip() + "\n"))
