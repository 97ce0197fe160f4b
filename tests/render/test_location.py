"""One label and one locator: every renderer names and places the same finding alike."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from gymcheck.render import console as console_renderer
from gymcheck.render import github, html, junit
from gymcheck.render.location import finding_label, locate
from gymcheck.report import CheckResult, Finding, Report, Status

WHERE = "rollouts.jsonl:17, rollout 16, turn 2, token 3089"


def finding() -> Finding:
    return Finding(
        code="continuity_break",
        message="turn 2 breaks",
        source="rollouts.jsonl",
        line=17,
        rollout_index=16,
        cause="history_edited",
        turn=2,
        token_index=3089,
    )


def test_locate_names_every_part_the_finding_has() -> None:
    assert locate(finding()) == WHERE
    assert locate(Finding("reward_invalid", "bad", rollout_index=0)) == "rollout 0"
    assert locate(Finding("schema", "empty", source="a.jsonl")) == "a.jsonl"
    assert locate(Finding("endpoint_chat", "down")) == ""


def test_console_html_and_junit_show_the_same_location() -> None:
    report = Report([CheckResult("token_continuity", Status.FAIL, "1 break", findings=[finding()])])
    out = StringIO()
    console_renderer.render(Console(file=out, width=200, color_system=None), report)
    assert WHERE in out.getvalue()
    assert WHERE in html.render(report)
    assert WHERE in junit.render(report)


def test_a_finding_is_labelled_by_its_code_and_cause_in_every_renderer() -> None:
    label = "continuity_break (history_edited)"
    assert finding_label("continuity_break", "history_edited") == label
    assert finding_label("endpoint_chat", None) == "endpoint_chat"
    check = CheckResult("token_continuity", Status.FAIL, "1 break", findings=[finding()])
    out = StringIO()
    console_renderer.render(Console(file=out, width=200, color_system=None), Report([check]))
    assert label in out.getvalue()
    assert f'name="{label} at {WHERE}"' in junit.render(Report([check]))
    assert f"title=token_continuity%3A {label}::" in github.finding_line(check, finding())
