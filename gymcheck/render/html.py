"""A self-contained HTML page of the results: one file, no scripts, no external assets.

It opens on the verdict, then the run (version, command line, target, time), the checks, and
the findings grouped by check, code and cause: the fix once per group, each member with where
it is, its decoded text side by side and its aligned token view. Filtering by check, code or
cause is plain CSS (``:checked``). The log-prob scatter plot is embedded as a PNG.
"""

from __future__ import annotations

import base64
import re
from html import escape

from gymcheck.redact import redact
from gymcheck.render.groups import FindingGroup, group_findings, plural
from gymcheck.render.html_style import STYLE
from gymcheck.render.html_tokens import token_table
from gymcheck.render.location import locate
from gymcheck.render.tokens import token_rows
from gymcheck.render.verdict import HEADLINES, not_run_text, outcome
from gymcheck.render.words import step_text
from gymcheck.report import CheckResult, Finding, Report, Status

MEMBERS_IN_FULL = 25
"""Members of a group shown with their decoded text and token view."""
MEMBERS_LISTED = 500
"""Members of a group listed at all; the JSON report has every one."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _badge(status: Status) -> str:
    return f'<span class="badge s-{status.value}">{status.value.upper()}</span>'


def _counts(report: Report) -> str:
    """``6 errors, 1 note``: every finding, those only counted included."""
    groups = [g for check in report.checks for g in group_findings(check)]
    by_severity = {
        s: sum(g.count for g in groups if g.severity == s) for s in ("error", "warning", "info")
    }
    words = {"error": "error", "warning": "warning", "info": "note"}
    return ", ".join(plural(n, words[s]) for s, n in by_severity.items() if n)


def verdict(report: Report) -> tuple[str, str, str]:
    """The banner's class, headline and the reason in one line."""
    kind = outcome(report)
    counts = _counts(report)
    not_run = f"Not run: {not_run_text(report)}." if report.partial else ""
    if kind == "failed":
        failed = [c.id for c in report.checks if c.required and c.status is Status.FAIL]
        why = " · ".join(w for w in (f"{', '.join(failed)} failed", counts, not_run) if w)
        return "fail", HEADLINES[kind], why
    if kind == "errored":
        errored = [c.id for c in report.checks if c.status is Status.ERROR]
        return "error", HEADLINES[kind], f"{', '.join(errored)} ended in error"
    if kind == "partial":
        return "partial", HEADLINES[kind], not_run
    return "pass", HEADLINES[kind], f"{plural(len(report.checks), 'check')} ran"


def _meta(report: Report) -> str:
    from gymcheck import __version__

    rows = [("gymcheck", __version__)]
    if report.run is not None:
        run = report.run
        rows.append(("command", run.command))
        if run.target:
            rows.append(("target", run.target))
        if run.started_at:
            rows.append(("started", run.started_at))
        if run.duration_s is not None:
            rows.append(("duration", f"{run.duration_s:.1f} s"))
    return (
        '<dl class="meta">'
        + "".join(
            f"<dt>{escape(k)}</dt><dd class='{'mono' if k == 'command' else ''}'>{escape(v)}</dd>"
            for k, v in rows
        )
        + "</dl>"
    )


def _checks_table(report: Report) -> str:
    rows = []
    for check in report.checks:
        bad = check.status in (Status.FAIL, Status.ERROR)
        kind = "bad" if bad else ("warned" if check.status is Status.WARN else "")
        steps = "".join(
            f"<li>{_badge(s.status)} {escape(step_text(check.id, s))}</li>" for s in check.steps
        )
        steps = f"<ul class=steps>{steps}</ul>" if steps else ""
        if steps and check.status is Status.PASS:  # all green: one click away, not in the way
            summary = plural(len(check.steps), "sub-check") + " passed"
            steps = f"<details class=steps><summary>{summary}</summary>{steps}</details>"
        count = f" <a href='#check-{_slug(check.id)}'>{plural(check.findings_total, 'finding')}</a>"
        rows.append(
            f"<tr class='{kind}'><td class='id'><code>{escape(check.id)}</code>"
            f"{'' if check.required else ' <em>(optional)</em>'}</td>"
            f"<td>{_badge(check.status)}</td><td>{escape(check.summary)}"
            f"{count if check.findings else ''}"
            f"{steps}</td></tr>"
        )
    return (
        "<table class='checks'><tr><th>check</th><th>status</th><th>summary</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _filters(groups: list[FindingGroup]) -> tuple[str, str]:
    """Radio inputs (siblings of ``#findings``), their labels as chips, and the CSS that hides
    the groups a chosen chip does not match."""
    values: dict[str, list[str]] = {"check": [], "code": [], "cause": []}
    for group in groups:
        for kind, value in (
            ("check", group.check_id),
            ("code", group.code),
            ("cause", group.cause),
        ):
            if value and value not in values[kind]:
                values[kind].append(value)
    inputs = ['<input class="filter" type="radio" name="filter" id="f-all" checked>']
    chips = ['<label for="f-all">all</label>']
    rules = ["#f-all:checked~.filters label[for=f-all]{background:#0969da;color:#fff}"]
    for kind, items in values.items():
        chips.append(f'<span class="kind">{kind}</span>')
        for value in items:
            key = f"{kind}-{_slug(value)}"
            inputs.append(f'<input class="filter" type="radio" name="filter" id="f-{key}">')
            chips.append(f'<label for="f-{key}">{escape(value)}</label>')
            rules.append(f"#f-{key}:checked~#findings .group:not(.{key}){{display:none}}")
            rules.append(
                f"#f-{key}:checked~.filters label[for=f-{key}]{{background:#0969da;color:#fff}}"
            )
    return "".join(inputs) + '<div class="filters">' + "".join(chips) + "</div>", "".join(rules)


def _member(finding: Finding) -> str:
    where = locate(finding) or "(no location)"
    sides = "".join(
        f"<div><h4>{label}</h4><pre>{escape(text)}</pre></div>"
        for label, text in (("expected", finding.expected), ("actual", finding.actual))
        if text is not None
    )
    rows = token_rows(finding)
    return (
        f"<li class='member'><div class='loc'>{escape(where)}</div>"
        f"<p>{escape(finding.message)}</p>"
        f"{'<div class=sides>' + sides + '</div>' if sides else ''}"
        f"{token_table(rows) if rows else ''}</li>"
    )


def _members(group: FindingGroup) -> str:
    """The first members in full; then, so that a page of 10,000 findings stays light, their
    locators and messages; then a count of the rest (members or only counted)."""
    members = group.members
    full = "".join(_member(f) for f in members[:MEMBERS_IN_FULL])
    brief = "".join(
        f"<li class='member brief'><span class='loc'>{escape(locate(f) or '(no location)')}"
        f"</span> {escape(f.message)}</li>"
        for f in members[MEMBERS_IN_FULL:MEMBERS_LISTED]
    )
    rest = group.count - min(len(members), MEMBERS_LISTED)
    more = f"<li class='member note'>… and {plural(rest, 'more place')} (see --json)</li>"
    return full + brief + (more if rest > 0 else "")


def _group(group: FindingGroup) -> str:
    classes = " ".join(
        f"{kind}-{_slug(value)}"
        for kind, value in (("check", group.check_id), ("code", group.code), ("cause", group.cause))
        if value
    )
    cause = f"<span class='cause'>{escape(group.cause)}</span>" if group.cause else ""
    fixes = "".join(f"<p class='fix'><b>Fix:</b> {escape(fix)}</p>" for fix in group.fixes)
    count = group.count
    return (
        f"<section class='group {classes}' id='{_slug(group.anchor)}'><header>"
        f"<span class='sev sev-{escape(group.severity)}'>{escape(group.severity)}</span>"
        f"<h3><code>{escape(group.code)}</code></h3>{cause}"
        f"<span class='count'>× {count} {'place' if count == 1 else 'places'}</span>"
        f"<span class='check'><code>{escape(group.check_id)}</code></span></header>{fixes}"
        f"<ol class='members'>{_members(group)}</ol></section>"
    )


def _plot(report: Report) -> str:
    result = next((c for c in report.checks if c.id == "logprob_agreement"), None)
    if result is None:
        return ""
    from gymcheck.render.plot import plot_title, scatter_png, why_no_plot

    reason = why_no_plot(result)
    if reason is None:
        try:
            png = scatter_png(
                result.series["gen"], result.series["train"], title=plot_title(result)
            )
        except ImportError:
            reason = "matplotlib is not installed: pip install 'gymcheck[train]'"
        else:
            data = base64.b64encode(png).decode()
            return (
                "<h2>Trainer vs engine log-probs</h2><div class='plot'>"
                f"<img alt='{escape(plot_title(result))}' src='data:image/png;base64,{data}'>"
                "</div>"
            )
    return f"<h2>Trainer vs engine log-probs</h2><p class='note'>No plot: {escape(reason)}</p>"


def render(report: Report) -> str:
    """The whole page as one string, with every secret redacted."""
    return redact(_render(report))


def _render(report: Report) -> str:
    kind, headline, why = verdict(report)
    severity_order = {"error": 0, "warning": 1, "info": 2}
    groups = sorted(
        (g for check in report.checks for g in group_findings(check)),
        key=lambda g: severity_order.get(g.severity, 3),
    )
    chips, filter_rules = _filters(groups) if groups else ("", "")
    by_check: dict[str, list[str]] = {}
    for group in groups:
        by_check.setdefault(group.check_id, []).append(_group(group))
    findings = "".join(
        f"<div id='check-{_slug(check_id)}'>{''.join(sections)}</div>"
        for check_id, sections in by_check.items()
    )
    body = (
        f"<h2>Findings</h2>{chips}<div id='findings'>{findings}</div>"
        if groups
        else "<p class='empty'>No findings.</p>"
    )
    checks: list[CheckResult] = report.checks
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>gymcheck: {escape(headline)}</title><style>{STYLE}{filter_rules}</style></head>"
        f"<body><div class='banner {kind}'><span class='verdict'>{escape(headline)}</span>"
        f"<span class='why'>{escape(why)}</span></div><main>"
        f"<h1>{escape(report.title)}</h1>{_meta(report)}"
        f"<h2>Checks</h2>{_checks_table(report) if checks else ''}{body}{_plot(report)}"
        "<footer>Indexing: rollout 0-based; line and turn 1-based; token 0-based. "
        "Generated by gymcheck; this file has no scripts and loads nothing.</footer>"
        "</main></body></html>\n"
    )
