"""Renderers: console layout of the guide, JSON contract, JUnit XML and HTML."""

from __future__ import annotations

from io import StringIO
from xml.etree import ElementTree as ET

import orjson
from rich.console import Console

from gymcheck.render import console as console_renderer
from gymcheck.render import github, html, jsonout, junit
from gymcheck.report import CheckResult, ExitCode, Finding, Report, Status, Step


def sample_report() -> Report:
    continuity = CheckResult(
        id="token_continuity",
        status=Status.FAIL,
        summary="1 of 2 rollouts break continuity",
        findings=[
            Finding(
                code="continuity_break",
                message="turn 2's prompt drops the reasoning of turn 1",
                source="rollouts.jsonl",
                line=17,
                rollout_index=16,
                cause="reasoning_stripped",
                turn=2,
                token_index=3089,
                expected="<think>\nOkay",
                actual="<think>\n\n</think>",
                fix="send token ids back",
            )
        ],
    )
    return Report(
        checks=[
            CheckResult(
                id="http_endpoint",
                status=Status.PASS,
                summary="endpoint ok",
                steps=[Step("models", Status.PASS, data={"detail": "1 model listed"})],
            ),
            continuity,
            CheckResult(id="gradient_flow", status=Status.SKIP, summary="no torch", required=False),
        ]
    )


def test_json_report_follows_the_contract() -> None:
    data = orjson.loads(jsonout.render(sample_report()))
    assert data["passed"] is False
    ids = [c["id"] for c in data["checks"]]
    assert ids == ["http_endpoint", "token_continuity", "gradient_flow"]
    finding = data["findings"][0]
    assert finding["code"] == "continuity_break"
    assert (finding["line"], finding["rollout_index"], finding["turn"]) == (17, 16, 2)
    assert (finding["cause"], finding["token_index"]) == ("reasoning_stripped", 3089)
    assert "gymcheck_version" in data


def test_exit_codes() -> None:
    report = sample_report()
    assert report.exit_code() is ExitCode.FAILED
    report.checks[1].status = Status.WARN
    assert report.passed and report.exit_code() is ExitCode.OK
    report.checks[2].status = Status.ERROR
    assert report.exit_code() is ExitCode.INTERNAL_ERROR


def test_junit_has_a_case_per_check_and_per_finding() -> None:
    report = sample_report()
    report.checks[0].findings.append(
        Finding("multi_turn_rerendered", "history is re-rendered", severity="warning")
    )
    root = ET.fromstring(junit.render(report))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "2", "1")
    cases = list(suite.iter("testcase"))
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("http_endpoint", "http_endpoint"),
        ("http_endpoint", "multi_turn_rerendered"),
        ("token_continuity", "token_continuity"),
        (
            "token_continuity",
            "continuity_break (reasoning_stripped) at rollouts.jsonl:17, rollout 16, turn 2, "
            "token 3089",
        ),
        ("gradient_flow", "gradient_flow"),
    ]
    finding = cases[3]
    assert (finding.get("file"), finding.get("line")) == ("rollouts.jsonl", "17")
    failure = finding.find("failure")
    assert failure is not None and failure.get("type") == "continuity_break"
    body = failure.text or ""
    assert "fix: send token ids back" in body and "expected: <think>\nOkay" in body
    # A warning passes, and stays visible.
    assert cases[1].find("failure") is None
    assert "[warning] multi_turn_rerendered" in (cases[1].findtext("system-out") or "")


def test_github_annotations() -> None:
    lines = github.render(sample_report()).splitlines()
    assert lines == [
        "::error file=rollouts.jsonl,line=17,title=token_continuity%3A continuity_break "
        "(reasoning_stripped)::rollouts.jsonl:17, rollout 16, turn 2, token 3089: turn 2's "
        "prompt drops the reasoning of turn 1%0Afix: send token ids back"
    ]


def test_html_is_self_contained_and_escaped() -> None:
    page = html.render(sample_report())
    assert page.startswith("<!doctype html>")
    assert "&lt;think&gt;" in page and "<think>" not in page
    assert "<script" not in page and "http" not in page.split("<style>")[0]


def test_console_layout_matches_the_guide() -> None:
    out = StringIO()
    console = Console(file=out, width=120, color_system=None)
    console_renderer.render(console, sample_report())
    text = out.getvalue()
    assert "Training Framework Integration Validation" in text
    assert "📡 Testing HTTP endpoint..." in text and "✅ Models: 1 model listed" in text
    assert "   continuity_break (reasoning_stripped)\n" in text
    assert "      at rollouts.jsonl:17, rollout 16, turn 2, token 3089: turn 2's" in text
    assert "  token_continuity: ❌ FAIL" in text
    assert "  gradient_flow: ⏭️  SKIP (optional)" in text
    assert text.rstrip().endswith("Some validations failed. Review the errors above.")


def test_counted_findings_are_counted_everywhere() -> None:
    from gymcheck.finding_store import FindingStore

    store = FindingStore(keep=2)
    store.extend(
        Finding("continuity_break", "m", cause="rerendered", rollout_index=k, turn=2)
        for k in range(5)
    )
    check = CheckResult(
        "token_continuity", Status.FAIL, "5 of 5", findings=list(store.kept), finding_store=store
    )
    page = html.render(Report([check]))
    assert "× 5 places" in page and "… and 3 more places (see --json)" in page
    out = StringIO()
    console_renderer.render_check(Console(file=out, width=80, color_system=None), check)
    assert "continuity_break (rerendered) × 5" in out.getvalue()
    assert "… and 3 more findings" in out.getvalue()
