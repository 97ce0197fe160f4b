"""The console rendering, in the layout of NeMo Gym's "Validate Your Integration" guide.

Findings are grouped by code and cause: the fix is printed once per group, the first member
in full with its aligned token view, the others by where they are.
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

from gymcheck.render.console_tokens import token_table
from gymcheck.render.groups import FindingGroup, group_findings, plural
from gymcheck.render.location import locate
from gymcheck.render.tokens import token_rows
from gymcheck.render.verdict import Outcome, closing_line, outcome
from gymcheck.render.words import heading, step_text
from gymcheck.report import REPORT_TITLE, CheckResult, Finding, Report, Status

RULE = "=" * 50

ICONS: dict[Status, str] = {
    Status.PASS: "✅",
    Status.FAIL: "❌",
    Status.WARN: "⚠️ ",
    Status.SKIP: "⏭️ ",
    Status.ERROR: "💥",
}

STYLES: dict[Status, str] = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.WARN: "yellow",
    Status.SKIP: "dim",
    Status.ERROR: "bold magenta",
}

CLOSING_ICONS: dict[Outcome, str] = {
    "passed": "🎉",
    "partial": "✅",
    "failed": "⚠️ ",
    "errored": "💥",
}

MEMBERS_SHOWN = 5
"""Members listed per group; ``-v`` lists them all."""

GROUP_INDENT = 3
DETAIL_INDENT = 6


def _clip(text: str, width: int = 160) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def _indented(renderable: RenderableType, indent: int) -> Padding:
    return Padding(renderable, (0, 0, 0, indent), expand=False)


def _line(console: Console, text: str | Text, indent: int) -> None:
    """One paragraph, wrapped under its own indent at the console's width."""
    paragraph = text if isinstance(text, Text) else Text(text)
    for line in paragraph.wrap(console, max(20, console.width - indent)):
        line.rstrip()
        console.print(Text(" " * indent) + line, soft_wrap=True)


def render_finding(console: Console, finding: Finding, *, fix: bool = True) -> None:
    """One finding in full: where, what, both decoded sides, the token view, the fix."""
    location = locate(finding)
    where = Text.assemble(("at " + location + ": " if location else "", "bold"), finding.message)
    _line(console, where, DETAIL_INDENT)
    if finding.expected is not None:
        _line(console, f"expected: {_clip(finding.expected)}", DETAIL_INDENT)
    if finding.actual is not None:
        _line(console, f"actual:   {_clip(finding.actual)}", DETAIL_INDENT)
    rows = token_rows(finding, before=3, after=8)
    if rows:
        console.print(_indented(token_table(rows), DETAIL_INDENT))
    if fix and finding.fix:
        _line(console, f"fix: {finding.fix}", DETAIL_INDENT)


def render_group(console: Console, group: FindingGroup, *, verbosity: int = 0) -> None:
    """The group's label and count, its fix once, its first member in full, then the others."""
    count = group.count
    label = Text.assemble((group.label, "bold"), f" × {count}" if count > 1 else "")
    _line(console, label, GROUP_INDENT)
    first, *others = group.members
    render_finding(console, first, fix=False)
    shown = others if verbosity > 0 else others[: MEMBERS_SHOWN - 1]
    for member in shown:
        if verbosity > 0:
            render_finding(console, member, fix=False)
        else:
            _line(console, f"also at {locate(member) or 'another place'}", DETAIL_INDENT)
    hidden = count - 1 - len(shown)
    if hidden > 0:
        _line(console, f"… and {plural(hidden, 'more finding')} (see --json, -v)", DETAIL_INDENT)
    for text in group.fixes:
        _line(console, f"fix: {text}", DETAIL_INDENT)


def render_check(console: Console, result: CheckResult, *, verbosity: int = 0) -> None:
    """A check's heading, its steps (or summary) and its findings, grouped.

    ``verbosity`` < 0 prints nothing (the summary says it all); > 0 prints every finding.
    """
    if verbosity < 0:
        return
    console.print()
    console.print(heading(result.id))
    for step in result.steps:
        console.print(
            f"{ICONS[step.status]} [{STYLES[step.status]}]{escape(step_text(result.id, step))}[/]",
            soft_wrap=True,
        )
    if not result.steps or result.status is not Status.PASS:
        console.print(
            f"{ICONS[result.status]} [{STYLES[result.status]}]{escape(result.summary)}[/]",
            soft_wrap=True,
        )
    for group in group_findings(result):
        render_group(console, group, verbosity=verbosity)


def render_summary(console: Console, report: Report) -> None:
    console.print()
    console.print(RULE)
    console.print("VALIDATION SUMMARY")
    console.print(RULE)
    for result in report.checks:
        label = result.status.value.upper()
        optional = "" if result.required else " (optional)"
        console.print(
            f"  {result.id}: {ICONS[result.status]} [{STYLES[result.status]}]{label}[/]{optional}"
        )
    console.print()
    console.print(
        f"{CLOSING_ICONS[outcome(report)]} {escape(closing_line(report))}", soft_wrap=True
    )


def render_header(console: Console, title: str = REPORT_TITLE) -> None:
    console.print(RULE)
    console.print(title)
    console.print(RULE)


def render(console: Console, report: Report, *, verbosity: int = 0) -> None:
    render_header(console, report.title)
    for result in report.checks:
        render_check(console, result, verbosity=verbosity)
    render_summary(console, report)
