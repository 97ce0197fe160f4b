"""The one runner: timing, skips for unmet needs, crashes as ``error`` results, one exit policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymcheck.checks.context import CheckContext
from gymcheck.checks.registry import CheckSpec
from gymcheck.errors import UsageError
from gymcheck.report import CheckResult, ExitCode, Report, Status
from gymcheck.running import run_check, run_checks


def spec(run, *, needs=(), required=True, check_id="token_roundtrip") -> CheckSpec:
    return CheckSpec(check_id, 1, required, needs, run)


def test_a_crash_is_an_error_result_with_a_logged_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GYMCHECK_CACHE_DIR", str(tmp_path))

    def explode(ctx: CheckContext) -> CheckResult:
        raise ZeroDivisionError("the tokenizer divided by zero")

    result = run_check(spec(explode), CheckContext())
    assert result.status is Status.ERROR and result.id == "token_roundtrip"
    assert "ZeroDivisionError: the tokenizer divided by zero" in result.summary
    log = Path(result.details["log"])
    assert log.parent == tmp_path / "logs"
    assert 'raise ZeroDivisionError("the tokenizer divided by zero")' in log.read_text()
    assert result.duration_s is not None
    assert Report(checks=[result]).exit_code() is ExitCode.INTERNAL_ERROR


def test_a_result_passes_through_timed() -> None:
    result = run_check(
        spec(lambda ctx: CheckResult("http_endpoint", Status.PASS, "ok")), CheckContext()
    )
    assert result.status is Status.PASS and result.duration_s is not None


def test_an_unmet_need_skips_the_check_without_running_it() -> None:
    def never(ctx: CheckContext) -> CheckResult:
        raise AssertionError("ran without its base URL")

    result = run_check(spec(never, needs=("base_url",), check_id="http_endpoint"), CheckContext())
    assert result.status is Status.SKIP
    assert result.summary == "no --base-url: the endpoint is not part of this run"


def test_the_registry_decides_required_unless_the_command_asks_by_name() -> None:
    failing = spec(
        lambda ctx: CheckResult("gradient_flow", Status.FAIL, "no gradient"),
        required=False,
        check_id="gradient_flow",
    )
    optional = run_check(failing, CheckContext())
    assert optional.required is False
    assert Report([optional]).exit_code() is ExitCode.OK
    asked = run_check(failing, CheckContext(), required=True)
    assert asked.required is True
    assert Report([asked]).exit_code() is ExitCode.FAILED


def test_a_usage_error_inside_a_check_is_the_users_error() -> None:
    def unreadable(ctx: CheckContext) -> CheckResult:
        raise UsageError("cannot read rollouts: permission denied")

    with pytest.raises(UsageError, match="permission denied"):
        run_check(spec(unreadable), CheckContext())


def test_run_checks_runs_registered_checks_in_the_order_given() -> None:
    seen: list[str] = []
    report = run_checks(
        ["token_continuity", "rollout_collection"],
        CheckContext(),
        title="two checks",
        on_result=lambda result: seen.append(result.id),
    )
    assert seen == ["token_continuity", "rollout_collection"]
    assert report.title == "two checks"
    # No rollouts in this context: both are skipped with the reason.
    assert {c.status for c in report.checks} == {Status.SKIP}
