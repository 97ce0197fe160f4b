"""The console rendering, in the layout of NeMo Gym's "Validate Your Integration" guide."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from gymcheck.render.location import locate
from gymcheck.render.words import step_text
from gymcheck.report import REPORT_TITLE, CheckResult, Finding, Report, Status

RULE = "=" * 50

HEADINGS: dict[str, str] = {
    "http_endpoint": "📡 Testing HTTP endpoint...",
    "token_roundtrip": "🔄 Testing token round-trips...",
    "rollout_collection": "📦 Testing rollout collection...",
    "token_continuity": "🔗 Testing token continuity...",
    "gradient_flow": "📈 Testing gradient flow...",
    "logprob_agreement": "🎯 Testing train/inference log-prob agreement...",
}

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

MAX_FINDINGS_SHOWN = 5


def _clip(text: str, width: int = 160) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def render_finding(console: Console, finding: Finding) -> None:
    location = locate(finding)
    code = finding.code + (f" ({finding.cause})" if finding.cause else "")
    console.print(
        f"   [bold]{escape(code)}[/]"
        + (f" at {escape(location)}" if location else "")
        + f": {escape(finding.message)}",
        soft_wrap=True,
    )
    if finding.expected is not None:
        console.print(f"      expected: {escape(_clip(finding.expected))}", soft_wrap=True)
    if finding.actual is not None:
        console.print(f"      actual:   {escape(_clip(finding.actual))}", soft_wrap=True)
    if finding.fix:
        console.print(f"      fix: {escape(finding.fix)}", soft_wrap=True)


def render_check(console: Console, result: CheckResult) -> None:
    console.print()
    console.print(HEADINGS.get(result.id, f"🔎 Running {result.id}..."))
    lines = result.steps or []
    for step in lines:
        console.print(
            f"{ICONS[step.status]} [{STYLES[step.status]}]{escape(step_text(result.id, step))}[/]",
            soft_wrap=True,
        )
    if not lines or result.status is not Status.PASS:
        console.print(
            f"{ICONS[result.status]} [{STYLES[result.status]}]{escape(result.summary)}[/]",
            soft_wrap=True,
        )
    for finding in result.findings[:MAX_FINDINGS_SHOWN]:
        render_finding(console, finding)
    hidden = len(result.findings) - MAX_FINDINGS_SHOWN
    if hidden > 0:
        console.print(f"   … and {hidden} more findings (see --json)")


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
    if report.passed:
        console.print("🎉 All validations passed! Your integration is ready.")
    else:
        console.print("⚠️  Some validations failed. Review the errors above.")


def render_header(console: Console, title: str = REPORT_TITLE) -> None:
    console.print(RULE)
    console.print(title)
    console.print(RULE)


def render(console: Console, report: Report) -> None:
    render_header(console, report.title)
    for result in report.checks:
        render_check(console, result)
    render_summary(console, report)
