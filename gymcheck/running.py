"""The one runner: every command runs its checks through ``run_checks``.

Each check is timed; a check whose needs are not met is skipped with the reason; an unexpected
exception becomes an ``error`` result whose traceback goes to a log file under
``~/.cache/gymcheck/logs``, the console gets one line, and the checks after it still run. What
the run's exit code is, ``Report.exit_code`` alone decides.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from gymcheck.checks.context import CheckContext
from gymcheck.checks.registry import CheckSpec, spec_of
from gymcheck.errors import UsageError
from gymcheck.redact import redact
from gymcheck.report import REPORT_TITLE, CheckResult, Report, Status
from gymcheck.user_dirs import log_dir

ResultCallback = Callable[[CheckResult], None]


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


def run_check(spec: CheckSpec, ctx: CheckContext, *, required: bool | None = None) -> CheckResult:
    """One check, timed: skipped when its needs are unmet, ``error`` when it raises.

    ``required`` overrides the registry's flag (a check a command was asked to run by name).
    A ``GymcheckError`` while resolving the needs (a model that cannot be loaded), and a
    ``UsageError`` from the check (an input that cannot be read), are the user's errors and
    propagate.
    """
    required = spec.required if required is None else required
    started = time.perf_counter()
    reason = ctx.unmet(spec.needs)
    if reason is not None:
        result = CheckResult(spec.id, Status.SKIP, reason)
    else:
        try:
            result = spec.run(ctx)
        except UsageError:
            raise  # bad input met inside a check (an unreadable file): the user's error
        except Exception as exc:
            result = errored(spec.id, exc)
    result.required = required
    if result.duration_s is None:
        result.duration_s = round(time.perf_counter() - started, 3)
    return result


def iter_checks(
    check_ids: Iterable[str], ctx: CheckContext, *, required: Iterable[str] = ()
) -> Iterator[CheckResult]:
    """Each check's result as soon as it is known; ``required`` names checks that count as
    required in this run whatever the registry says."""
    forced = set(required)
    for check_id in check_ids:
        yield run_check(spec_of(check_id), ctx, required=True if check_id in forced else None)


def run_checks(
    check_ids: Iterable[str],
    ctx: CheckContext,
    *,
    title: str = REPORT_TITLE,
    on_result: ResultCallback | None = None,
    required: Iterable[str] = (),
) -> Report:
    """Run the checks in the order given and return their report."""
    report = Report(title=title)
    for result in iter_checks(check_ids, ctx, required=required):
        report.checks.append(result)
        if on_result is not None:
            on_result(result)
    return report
