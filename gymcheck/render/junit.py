"""JUnit XML, one testcase per check, for CI systems."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from gymcheck.redact import redact
from gymcheck.render.location import locate
from gymcheck.render.words import step_text
from gymcheck.report import Report, Status


def render(report: Report) -> str:
    """The JUnit XML, with every secret redacted."""
    return redact(_render(report))


def _render(report: Report) -> str:
    checks = report.checks
    suite = ET.Element(
        "testsuite",
        name="gymcheck",
        tests=str(len(checks)),
        failures=str(sum(c.status is Status.FAIL for c in checks)),
        errors=str(sum(c.status is Status.ERROR for c in checks)),
        skipped=str(sum(c.status is Status.SKIP for c in checks)),
        time=f"{sum(c.duration_s or 0.0 for c in checks):.3f}",
    )
    for check in checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="gymcheck",
            name=check.id,
            time=f"{check.duration_s or 0.0:.3f}",
        )
        body = "\n".join(
            [check.summary]
            + [f"[{s.status.value}] {s.name}: {step_text(check.id, s)}" for s in check.steps]
            + [
                f"{f.code}{'/' + f.cause if f.cause else ''}"
                + (f" at {locate(f)}" if locate(f) else "")
                + f": {f.message}"
                for f in check.findings
            ]
        )
        if check.status is Status.FAIL:
            ET.SubElement(case, "failure", message=check.summary).text = body
        elif check.status is Status.ERROR:
            ET.SubElement(case, "error", message=check.summary).text = body
        elif check.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=check.summary)
        else:
            ET.SubElement(case, "system-out").text = body
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
