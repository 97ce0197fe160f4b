"""JUnit XML for CI systems: one testcase per check, and one per finding under its check.

Every testcase's ``classname`` is the check id, so CI groups a check's findings under it. A
finding's testcase is named by its code, cause and place, carries ``file`` and ``line`` when it
comes from a file, and holds the message, the fix and both decoded sides. An ``error`` finding
of a failing check is a ``<failure>``; warnings and notes pass, with their text in
``<system-out>`` so that they stay visible.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from gymcheck.redact import redact
from gymcheck.render.groups import plural
from gymcheck.render.location import locate
from gymcheck.render.words import step_text
from gymcheck.report import CheckResult, Finding, Report, Status

FAILING = (Status.FAIL, Status.ERROR)


def finding_text(finding: Finding) -> str:
    """Where, what, the fix and both decoded sides: the body CI shows for a finding."""
    lines = [f"{finding.code}" + (f" ({finding.cause})" if finding.cause else "")]
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


def _check_case(suite: ET.Element, check: CheckResult) -> None:
    case = ET.SubElement(
        suite, "testcase", classname=check.id, name=check.id, time=f"{check.duration_s or 0:.3f}"
    )
    body = "\n".join(
        [check.summary]
        + [f"[{s.status.value}] {s.name}: {step_text(check.id, s)}" for s in check.steps]
        + (
            [plural(check.findings_total, "finding") + " (a testcase for each one kept)"]
            if check.findings
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


def _finding_case(suite: ET.Element, check: CheckResult, finding: Finding) -> bool:
    """Append the finding's testcase; whether it is a failure."""
    where = locate(finding)
    name = finding.code + (f" ({finding.cause})" if finding.cause else "")
    attributes = {"classname": check.id, "name": f"{name} at {where}" if where else name}
    if finding.source:
        attributes["file"] = finding.source
    if finding.line is not None:
        attributes["line"] = str(finding.line)
    case = ET.SubElement(suite, "testcase", attributes, time="0")
    text = finding_text(finding)
    failed = finding.severity == "error" and check.status in FAILING
    if failed:
        ET.SubElement(case, "failure", message=finding.message, type=finding.code).text = text
    else:
        ET.SubElement(case, "system-out").text = f"[{finding.severity}] {text}"
    return failed


def render(report: Report) -> str:
    """The report as a ``<testsuites>`` document with one ``<testsuite name="gymcheck">``,
    every secret redacted."""
    return redact(_render(report))


def _render(report: Report) -> str:
    suite = ET.Element("testsuite", name="gymcheck")
    if report.run is not None and report.run.started_at:
        suite.set("timestamp", report.run.started_at)
    failures = sum(c.status is Status.FAIL for c in report.checks)
    tests = len(report.checks)
    for check in report.checks:
        _check_case(suite, check)
        for finding in check.findings:
            tests += 1
            failures += _finding_case(suite, check, finding)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(sum(c.status is Status.ERROR for c in report.checks)))
    suite.set("skipped", str(sum(c.status is Status.SKIP for c in report.checks)))
    suite.set("time", f"{sum(c.duration_s or 0.0 for c in report.checks):.3f}")
    if report.run is not None:
        properties = ET.Element("properties")
        for key, value in report.run.to_dict().items():
            ET.SubElement(properties, "property", name=key, value=str(value))
        suite.insert(0, properties)
    suites = ET.Element("testsuites", name="gymcheck")
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
