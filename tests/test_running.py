"""A crashing check becomes an ``error`` result with its traceback in a log, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymcheck.report import CheckResult, ExitCode, Report, Status
from gymcheck.running import run_check


def test_a_crash_is_an_error_result_with_a_logged_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GYMCHECK_CACHE_DIR", str(tmp_path))

    def explode() -> CheckResult:
        raise ZeroDivisionError("the tokenizer divided by zero")

    result = run_check("token_roundtrip", explode)
    assert result.status is Status.ERROR and result.id == "token_roundtrip"
    assert "ZeroDivisionError: the tokenizer divided by zero" in result.summary
    log = Path(result.details["log"])
    assert log.parent == tmp_path / "logs"
    assert 'raise ZeroDivisionError("the tokenizer divided by zero")' in log.read_text()
    assert result.duration_s is not None
    assert Report(checks=[result]).exit_code() is ExitCode.INTERNAL_ERROR


def test_a_result_passes_through_timed() -> None:
    result = run_check("http_endpoint", lambda: CheckResult("http_endpoint", Status.PASS, "ok"))
    assert result.status is Status.PASS and result.duration_s is not None
