"""Renderers: console layout of the guide, JSON contract, JUnit XML and HTML."""

from __future__ import annotations

from io import StringIO
from xml.etree import ElementTree as ET

import orjson
from rich.console import Console

from gymcheck.render import console as console_renderer
from gymcheck.render import html, jsonout, junit
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


def test_junit_is_valid_xml_with_one_case_per_check() -> None:
    root = ET.fromstring(junit.render(sample_report()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["token_continuity"]
    assert "reasoning_stripped" in (failed[0].find("failure").text or "")  # type: ignore[union-attr]


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
