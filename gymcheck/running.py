"""Running one check: timed, and an unexpected exception becomes an ``error`` result.

The traceback goes to a log file under ``~/.cache/gymcheck/logs``; the console gets one line,
and the checks after it still run.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from datetime import datetime

from gymcheck.redact import redact
from gymcheck.report import CheckResult, Status
from gymcheck.user_dirs import log_dir


def errored(check_id: str, exc: BaseException, *, required: bool = True) -> CheckResult:
    """The ``error`` result of a check that crashed, with its traceback written to a log."""
    path = log_dir() / f"gymcheck-{datetime.now():%Y%m%d-%H%M%S}-{check_id}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(redact("".join(traceback.format_exception(exc))), encoding="utf-8")
        where = f"traceback in {path}"
    except OSError:
        where = "traceback could not be written"
    return CheckResult(
        id=check_id,
        status=Status.ERROR,
        summary=f"gymcheck failed inside this check: {type(exc).__name__}: {exc} ({where})",
        required=required,
        details={"log": str(path)},
    )


def run_check(
    check_id: str, run: Callable[[], CheckResult], *, required: bool = True
) -> CheckResult:
    """``run()``, timed; an ``Exception`` from it becomes an ``error`` result."""
    started = time.perf_counter()
    try:
        result = run()
    except Exception as exc:
        result = errored(check_id, exc, required=required)
    if result.duration_s is None:
        result.duration_s = round(time.perf_counter() - started, 3)
    return result
