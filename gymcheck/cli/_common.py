"""What every command shares: usage errors, the console, writing the report files."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from typing import IO, Any, NoReturn, cast

import typer
from rich.console import Console

from gymcheck import redact
from gymcheck.errors import GymcheckError, UsageError
from gymcheck.redact import RedactingStream
from gymcheck.report import ExitCode

# Everything the consoles print passes gymcheck.redact: no secret reaches a terminal or a log.
_STDOUT = cast(IO[str], RedactingStream(redact.stdout))
_STDERR = cast(IO[str], RedactingStream(redact.stderr))
console = Console(file=_STDOUT, highlight=False)
err_console = Console(file=_STDERR, highlight=False)


def human_output_on_stderr(on: bool) -> None:
    """Send ``console`` to stderr (``--json -`` keeps stdout for the report) or back."""
    console.file = _STDERR if on else _STDOUT


def exit_with(code: ExitCode) -> NoReturn:
    raise typer.Exit(int(code))


def usage_error(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    exit_with(ExitCode.USAGE_ERROR)


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """Turn deliberate errors into one line and exit 2 (usage) or 3 (gymcheck itself)."""
    try:
        yield
    except UsageError as exc:
        usage_error(str(exc))
    except GymcheckError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        exit_with(ExitCode.INTERNAL_ERROR)


def parse_reward_range(text: str) -> tuple[float, float]:
    """``"LO,HI"`` as two finite floats with LO <= HI; a usage error says what is wrong."""
    parts = text.split(",")
    if len(parts) != 2:
        usage_error(f"--reward-range takes LO,HI (e.g. 0,1), not {text!r}")
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        usage_error(f"--reward-range takes two numbers LO,HI, not {text!r}")
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        usage_error(f"--reward-range needs finite LO <= HI, not {text!r}")
    return low, high


def positive_seconds(param: typer.CallbackParam, value: float | None) -> float | None:
    """A typer callback: a timeout must be a finite number of seconds above zero."""
    if value is not None and not (math.isfinite(value) and value > 0):
        usage_error(f"{param.opts[0]} takes a finite number of seconds > 0, not {value!r}")
    return value


def http_url(param: typer.CallbackParam, value: str | None) -> str | None:
    """A typer callback: an absolute http(s) URL, or a one-line usage error."""
    if value is None:
        return None
    from gymcheck.openai_client import check_base_url

    with usage_errors():
        check_base_url(value, flag=param.opts[0])
    redact.add_url(value)
    return value


def api_key_from_env(variable: str | None) -> str | None:
    """The API key held in ``variable``; a usage error when the variable is unset or empty."""
    if variable is None:
        return None
    value = os.environ.get(variable, "")
    if not value:
        usage_error(f"--api-key-env {variable}: the environment variable is not set or empty")
    redact.add_secret(value)
    return value


def optional_tokenizer(source: str | None) -> Any:
    """The tokenizer that ``--tokenizer`` names, or ``None`` when it is not given."""
    if source is None:
        return None
    from gymcheck.loading import load_tokenizer

    return load_tokenizer(source)


def is_interactive() -> bool:
    return sys.stderr.isatty()
