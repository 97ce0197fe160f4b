"""What every command shares: usage errors, the console, writing the report files."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from gymcheck.errors import GymcheckError, UsageError
from gymcheck.report import ExitCode, Report

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


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


def write_outputs(
    report: Report,
    *,
    json_path: Path | None = None,
    junit_path: Path | None = None,
    html_path: Path | None = None,
) -> None:
    """Write each requested machine-readable rendering of ``report``."""
    from gymcheck.render import html, jsonout, junit

    for path, render in (
        (json_path, jsonout.render),
        (junit_path, junit.render),
        (html_path, html.render),
    ):
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(report), encoding="utf-8")
        except OSError as exc:
            usage_error(f"cannot write {path}: {exc.strerror or exc}")


def is_interactive() -> bool:
    return sys.stderr.isatty()
