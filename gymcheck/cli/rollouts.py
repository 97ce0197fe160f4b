"""`gymcheck rollouts`: scan NeMo Gym rollout JSONL files for record and continuity findings."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gymcheck.cli._common import (
    console,
    err_console,
    exit_with,
    is_interactive,
    optional_tokenizer,
    parse_reward_range,
    usage_errors,
)
from gymcheck.cli.app import app
from gymcheck.cli.options import option_groups, shared
from gymcheck.cli.output import Output
from gymcheck.jsonl import DEFAULT_MAX_LINE_BYTES
from gymcheck.render.groups import plural
from gymcheck.report import ExitCode, Report
from gymcheck.running import run_checks


@app.command(
    "rollouts",
    epilog="Example: [bold]gymcheck rollouts rollouts.jsonl --tokenizer /models/qwen3 "
    "--workers 4 --junit rollouts.xml[/]",
)
@option_groups
def rollouts(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="Rollout JSONL files written by NeMo Gym (.gz/.zst too).",
            show_default=False,
        ),
    ],
    tokenizer: Annotated[
        str | None,
        shared(
            "--tokenizer",
            "Tokenizer directory or cached model name: decodes breaks, names their cause and "
            "checks ids against the vocabulary.",
        ),
    ] = None,
    reward_range: Annotated[
        str, shared("--reward-range", "Valid rewards, inclusive, as LO,HI.")
    ] = "0,1",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            help="Processes that scan in parallel (at most one per CPU).",
        ),
    ] = 1,
    max_line_bytes: Annotated[
        int,
        typer.Option(
            "--max-line-bytes",
            metavar="N",
            min=1,
            help="Longer lines are a schema finding, skipped unread (bounds the memory).",
        ),
    ] = DEFAULT_MAX_LINE_BYTES,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run the scan as Ray tasks: a cluster address (auto, HOST:PORT, "
            "ray://HOST:PORT), or local to start Ray on 127.0.0.1 for this scan. Needs "
            "gymcheck[ray].",
        ),
    ] = None,
    *,
    output: Output,
) -> None:
    """Check every rollout record and the token continuity of every multi-turn rollout."""
    from gymcheck.checks.context import CheckContext, CheckOptions
    from gymcheck.checks.rollout_pass import ROLLOUT_CHECKS
    from gymcheck.rollout_inputs import RolloutFiles
    from gymcheck.scan import check_paths

    low_high = parse_reward_range(reward_range)
    output.refuse_overwrite(files)
    output.start(target=", ".join(map(str, files)))
    with usage_errors():
        paths = check_paths(files)
        loaded = optional_tokenizer(tokenizer)

    rollout_files = RolloutFiles(
        paths,
        workers=workers,
        max_line_bytes=max_line_bytes,
        spool_findings=output.json_path is not None or output.junit_path is not None,
        ray=ray,
    )
    context = CheckContext(
        tokenizer=loaded, rollouts=rollout_files, options=CheckOptions(reward_range=low_high)
    )
    # --ray without Ray, or a cluster that cannot be reached, is a usage error too.
    with usage_errors(), _byte_progress(sum(p.stat().st_size for p in paths)) as progress:
        rollout_files.progress = progress
        report = run_checks(ROLLOUT_CHECKS, context, title="Rollout file validation")
    render_rollouts(report, output, tokenizer_used=loaded is not None)
    output.finish(report)
    exit_with(report.exit_code())


@contextlib.contextmanager
def _byte_progress(total: int) -> Iterator[Callable[[int], None] | None]:
    """A bar of bytes scanned on a terminal (``None`` elsewhere)."""
    if not is_interactive():
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("Scanning rollouts", total=total)
        yield lambda n: bar.advance(task, n)


def summary_table(report: Report) -> Table:
    """Counts per finding code and cause, and what was scanned."""
    counts: Counter[tuple[str, str]] = Counter()
    for check in report.checks:
        for (code, cause), count in check.finding_counts().items():
            counts[(code, cause or "")] += count
    table = Table(title="Rollout scan summary", title_justify="left")
    table.add_column("finding")
    table.add_column("cause")
    table.add_column("count", justify="right")
    for (code, cause), count in sorted(counts.items()):
        table.add_row(code, cause or "—", str(count), style="red")
    if not counts:
        table.add_row("(none)", "—", "0", style="green")
    collection, continuity = report.checks  # the ROLLOUT_CHECKS, in order
    table.add_section()
    table.add_row("rollouts scanned", "", f"{collection.details.get('rollouts', 0):,}")
    table.add_row("turns scanned", "", f"{continuity.details.get('turns', 0):,}")
    table.add_row("bytes scanned", "", f"{collection.details.get('bytes', 0):,}")
    return table


def render_rollouts(report: Report, output: Output, *, tokenizer_used: bool) -> None:
    for result in report.checks:
        output.check(result)
    if not tokenizer_used and any(f.code == "continuity_break" for f in report.findings):
        console.print("   (pass --tokenizer to decode the breaks and name their cause)")
    console.print()
    console.print(summary_table(report))
    if report.exit_code() is ExitCode.OK:
        console.print("✅ No findings.")
    else:
        console.print(f"❌ {plural(report.findings_total, 'finding')} (exit 1).")
