"""What every command that produces findings shares: the report options (--json, --junit,
--html, --format, -q, -v), defined once as the option group ``Output``; where the human output
goes; and the run's metadata.

``--json -`` (or ``--junit -``, ``--html -``) writes that report to stdout; the human output
then goes to stderr, so ``gymcheck demo --json - | jq`` works.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated

import typer

from gymcheck.cli._common import console, human_output_on_stderr, usage_error, usage_errors
from gymcheck.report import CheckResult, Report, RunInfo

REPORTS = "Reports"
OUTPUT = "Output"


class OutputFormat(StrEnum):
    console = "console"
    github = "github"


STDOUT_HINT = " ('-' for stdout; the human output then goes to stderr)"
JsonOpt = Annotated[
    Path | None,
    typer.Option(
        "--json",
        metavar="FILE",
        help="Write the JSON report here" + STDOUT_HINT + ".",
        rich_help_panel=REPORTS,
    ),
]
JunitOpt = Annotated[
    Path | None,
    typer.Option(
        "--junit",
        metavar="FILE",
        help="Write JUnit XML here: a testcase per check and finding.",
        rich_help_panel=REPORTS,
    ),
]
HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html",
        metavar="FILE",
        help="Write a self-contained HTML report here.",
        rich_help_panel=REPORTS,
    ),
]
FormatOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        metavar="console|github",
        help="console: the guide's layout; github: GitHub Actions annotation lines "
        "(::error file=…,line=…::…).",
        rich_help_panel=OUTPUT,
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print only the summary.", rich_help_panel=OUTPUT),
]
VerboseOpt = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Print every finding in full.", rich_help_panel=OUTPUT),
]

_STARTED = time.time()  # the process's start, near enough: the CLI is imported first
_SECRET_WORDS = {"key", "token", "secret", "password", "passwd", "credential", "credentials"}
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def redacted_command(argv: list[str]) -> str:
    """The command line with secrets replaced by ``***``: values of flags that name a key,
    token, secret or password (not ``--api-key-env``, which names a variable), and URL
    credentials."""
    words = ["gymcheck", *argv[1:]]
    out: list[str] = []
    hide_next = False
    for word in words:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        flag, eq, _value = word.partition("=")
        words = flag.lower().lstrip("-").split("-") if flag.startswith("-") else []
        # --api-key and --hf-token hide their value; --tokenizer and --api-key-env do not.
        secret = bool(_SECRET_WORDS.intersection(words)) and words[-1] != "env"
        if secret and eq:
            out.append(f"{flag}=***")
            continue
        hide_next = secret
        out.append(_URL_USERINFO.sub("***@", word))
    return shlex.join(out)


@dataclass
class Output:
    """The report options of one command, and the rendering they choose.

    An option group (``gymcheck.cli.options.option_groups``): each field but ``target`` is a
    command-line option.
    """

    json_path: JsonOpt = None
    junit_path: JunitOpt = None
    html_path: HtmlOpt = None
    output_format: FormatOpt = OutputFormat.console
    quiet: QuietOpt = False
    verbose: VerboseOpt = False
    target: str | None = dataclasses.field(default=None, init=False)
    """What the run validates, in words (shown by the HTML report and the JSON ``run``)."""

    def start(self, target: str | None = None) -> None:
        """Check that the options agree (a usage error if not) and, with a report on stdout,
        send the human output to stderr. Before anything is printed."""
        self.target = target
        to_stdout = [p for p in (self.json_path, self.junit_path, self.html_path) if _dash(p)]
        if len(to_stdout) > 1:
            usage_error("only one of --json, --junit and --html can be '-' (stdout)")
        if self.quiet and self.verbose:
            usage_error("--quiet and --verbose contradict each other: pick one")
        if to_stdout:
            human_output_on_stderr(True)  # stdout carries the report alone

    def refuse_overwrite(
        self, inputs: Iterable[Path | None], *more: tuple[str, Path | None]
    ) -> None:
        """Exit 2 before any work when a report path (these three, then ``more``) is one of
        ``inputs`` (or a link to one)."""
        from gymcheck.files import check_report_paths

        reports = [("--json", self.json_path), ("--junit", self.junit_path)]
        with usage_errors():
            check_report_paths(
                [*reports, ("--html", self.html_path), *more], [p for p in inputs if p is not None]
            )

    @property
    def verbosity(self) -> int:
        return -1 if self.quiet else (1 if self.verbose else 0)

    def check(self, result: CheckResult) -> None:
        """One check's section: the guide's layout, or its GitHub annotations."""
        if self.output_format is OutputFormat.github:
            from gymcheck.render.github import check_lines

            for line in check_lines(result):
                console.file.write(line + "\n")
            return
        from gymcheck.render.console import render_check

        render_check(console, result, verbosity=self.verbosity)

    def finish(self, report: Report) -> None:
        """Stamp the run's metadata on ``report`` and write each report asked for."""
        from gymcheck.render import html, jsonout, junit

        report.run = RunInfo(
            command=redacted_command(sys.argv),
            target=self.target,
            started_at=datetime.fromtimestamp(_STARTED, UTC).isoformat(timespec="seconds"),
            duration_s=round(time.time() - _STARTED, 1),
        )
        for path, write in (
            (self.json_path, jsonout.write),  # streamed: a million findings never sit in memory
            (self.junit_path, junit.write),
            (self.html_path, _whole(html.render)),
        ):
            if path is None:
                continue
            if _dash(path):
                write(report, sys.stdout)
                sys.stdout.flush()
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("w", encoding="utf-8") as out:
                    write(report, out)
            except OSError as exc:
                usage_error(f"cannot write {path}: {exc.strerror or exc}")


def _whole(render: Callable[[Report], str]) -> Callable[[Report, IO[str]], object]:
    return lambda report, out: out.write(render(report))


def _dash(path: Path | None) -> bool:
    return path is not None and str(path) == "-"
