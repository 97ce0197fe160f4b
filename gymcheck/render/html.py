"""A self-contained HTML page of the results: no scripts, no external assets."""

from __future__ import annotations

from html import escape

from gymcheck.render.location import locate
from gymcheck.render.words import step_text
from gymcheck.report import Report, Status

COLORS = {
    Status.PASS: "#1a7f37",
    Status.FAIL: "#cf222e",
    Status.WARN: "#9a6700",
    Status.SKIP: "#6e7781",
    Status.ERROR: "#8250df",
}

STYLE = """
body{font:14px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1f2328}
h1{font-size:1.4rem} table{border-collapse:collapse;width:100%;margin:1rem 0}
td,th{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} .badge{color:#fff;border-radius:1rem;padding:.1rem .6rem;font-weight:600}
code,pre{font:12px ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
details{margin:.3rem 0}
"""


def _badge(status: Status) -> str:
    return f'<span class="badge" style="background:{COLORS[status]}">{status.value.upper()}</span>'


def render(report: Report) -> str:
    verdict = "All validations passed" if report.passed else "Some validations failed"
    rows = []
    for check in report.checks:
        steps = "".join(
            f"<li>{_badge(s.status)} {escape(step_text(check.id, s))}</li>" for s in check.steps
        )
        rows.append(
            f"<tr><td><code>{escape(check.id)}</code>"
            f"{'' if check.required else ' <em>(optional)</em>'}</td>"
            f"<td>{_badge(check.status)}</td><td>{escape(check.summary)}"
            f"{'<ul>' + steps + '</ul>' if steps else ''}</td></tr>"
        )
    findings = []
    for f in report.findings:
        where = locate(f)
        sides = "".join(
            f"<b>{label}</b><pre>{escape(text)}</pre>"
            for label, text in (("expected", f.expected), ("actual", f.actual))
            if text is not None
        )
        findings.append(
            f"<tr><td><code>{escape(f.code)}</code></td><td>{escape(f.cause or '')}</td>"
            f"<td>{escape(where)}</td><td>{escape(f.message)}"
            f"{'<br><b>fix:</b> ' + escape(f.fix) if f.fix else ''}"
            f"{'<details><summary>decoded text</summary>' + sides + '</details>' if sides else ''}"
            "</td></tr>"
        )
    findings_table = (
        "<h2>Findings</h2><table><tr><th>code</th><th>cause</th><th>where</th>"
        f"<th>what</th></tr>{''.join(findings)}</table>"
        if findings
        else ""
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>gymcheck: {escape(verdict)}</title><style>{STYLE}</style>"
        f"<h1>{escape(report.title)}</h1><p><b>{escape(verdict)}.</b></p>"
        "<table><tr><th>check</th><th>status</th><th>summary</th></tr>"
        f"{''.join(rows)}</table>{findings_table}</html>\n"
    )
