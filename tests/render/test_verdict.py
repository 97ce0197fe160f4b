"""The closing verdict: all passed, partial validation, failed, errored (DESIGN.md section 1)."""

from __future__ import annotations

from io import StringIO
from xml.etree import ElementTree as ET

import orjson
import pytest
from rich.console import Console

from gymcheck.render import console as console_renderer
from gymcheck.render import html, jsonout, junit
from gymcheck.render.verdict import closing_line, outcome
from gymcheck.report import CheckResult, ExitCode, Report, Status

NO_ENDPOINT = "no --base-url: the endpoint is not part of this run"


def report(*statuses: tuple[str, Status, bool]) -> Report:
    return Report(
        checks=[
            CheckResult(
                id=i, status=s, summary=NO_ENDPOINT if s is Status.SKIP else f"{i} {s}", required=r
            )
            for i, s, r in statuses
        ]
    )


def closing(result: Report) -> str:
    out = StringIO()
    console_renderer.render_summary(Console(file=out, width=100, color_system=None), result)
    return out.getvalue().rstrip().splitlines()[-1]


def test_a_required_check_that_did_not_run_makes_a_partial_validation_that_exits_0() -> None:
    partial = report(
        ("http_endpoint", Status.SKIP, True),
        ("token_continuity", Status.PASS, True),
        ("gradient_flow", Status.SKIP, False),
    )
    assert (partial.passed, partial.partial, partial.not_run) == (True, True, ["http_endpoint"])
    assert partial.exit_code() is ExitCode.OK
    assert outcome(partial) == "partial"
    assert closing(partial) == (
        "✅ Partial validation: every check that ran passed. "
        f"Not run: http_endpoint ({NO_ENDPOINT})."
    )
    data = orjson.loads(jsonout.render(partial))
    assert (data["passed"], data["partial"], data["not_run"]) == (True, True, ["http_endpoint"])
    cases = {c.get("name"): c for c in ET.fromstring(junit.render(partial)).iter("testcase")}
    assert cases["http_endpoint"].find("skipped").get("message") == (  # type: ignore[union-attr]
        f"required check not run: {NO_ENDPOINT}"
    )
    assert cases["gradient_flow"].find("skipped").get("message") == NO_ENDPOINT  # type: ignore[union-attr]
    page = html.render(partial)
    assert "<title>gymcheck: Partial validation: every check that ran passed</title>" in page
    assert f"Not run: http_endpoint ({NO_ENDPOINT})." in page


def test_every_check_run_and_passed_is_all_passed() -> None:
    full = report(("http_endpoint", Status.WARN, True), ("gradient_flow", Status.SKIP, False))
    assert (full.passed, full.partial, full.exit_code()) == (True, False, ExitCode.OK)
    assert closing(full) == "🎉 All validations passed! Your integration is ready."
    assert orjson.loads(jsonout.render(full))["not_run"] == []


def test_a_failure_exits_1_and_still_names_what_did_not_run() -> None:
    failed = report(("http_endpoint", Status.SKIP, True), ("token_continuity", Status.FAIL, True))
    assert (failed.passed, failed.exit_code()) == (False, ExitCode.FAILED)
    assert closing(failed) == (
        "⚠️  Some validations failed. Review the errors above. "
        f"Not run: http_endpoint ({NO_ENDPOINT})."
    )


@pytest.mark.parametrize("required", [True, False])
def test_an_error_with_no_failure_does_not_say_that_validations_failed(required: bool) -> None:
    errored = report(
        ("token_continuity", Status.PASS, True), ("gradient_flow", Status.ERROR, required)
    )
    assert errored.exit_code() is ExitCode.INTERNAL_ERROR
    assert closing_line(errored).startswith("A check could not complete")
    assert "Some validations failed" not in closing(errored)


def test_an_optional_failure_fails_nothing() -> None:
    optional = report(
        ("token_continuity", Status.PASS, True), ("gradient_flow", Status.FAIL, False)
    )
    assert (optional.passed, optional.exit_code()) == (True, ExitCode.OK)
