"""`gymcheck gradients`: gradient flow and train/inference log-prob agreement over rollouts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gymcheck.cli._common import (
    console,
    err_console,
    exit_with,
    is_interactive,
    refuse_overwrite,
    usage_error,
    usage_errors,
    write_outputs,
)
from gymcheck.cli.app import app
from gymcheck.report import CheckResult, ExitCode, Report, Status


def read_records(path: Path) -> tuple[list[Any], list[str]]:
    """The JSON records of a JSONL file, and one note per line that is not JSON."""
    from gymcheck.jsonl import iter_lines, parse_line
    from gymcheck.scan import check_paths

    check_paths([path])
    records, notes = [], []
    try:
        for line in iter_lines(path):
            if line.blank:
                continue
            value, reason = parse_line(line)
            if reason is not None:
                notes.append(f"{path}:{line.number}: {reason}")
                continue
            records.append(value)
    except OSError as exc:
        usage_error(f"cannot read {path}: {exc.strerror or exc}")
    return records, notes


@app.command("gradients")
def gradients(
    rollouts: Annotated[
        Path, typer.Option("--rollouts", help="Rollout JSONL written by NeMo Gym.")
    ],
    train_model: Annotated[
        str,
        typer.Option(
            "--train-model",
            help="Hugging Face model directory, or module:factory (file.py:factory) returning "
            "a torch.nn.Module that maps input_ids [1,T] to logits [1,T,V].",
        ),
    ],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON report here.")
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Write a scatter plot (PNG) of trainer vs engine log-probs."),
    ] = None,
    temperature: Annotated[
        float, typer.Option("--temperature", min=1e-6, help="Sampling temperature of the rollouts.")
    ] = 1.0,
    dtype: Annotated[
        str, typer.Option("--dtype", help="float32, bfloat16, float16 or float64.")
    ] = "float32",
    device: Annotated[
        str | None,
        typer.Option("--device", help="Where to run the training model (cpu, cuda, cuda:1)."),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option("--tokenizer", help="Tokenizer for decoded text (default: the model's)."),
    ] = None,
    max_rollouts: Annotated[
        int | None, typer.Option("--max-rollouts", min=1, help="Score only the first N rollouts.")
    ] = None,
    gradient_rollouts: Annotated[
        int, typer.Option("--gradient-rollouts", min=1, help="Rollouts in the gradient step.")
    ] = 4,
    max_mult_prob_error: Annotated[
        float, typer.Option("--max-mult-prob-error", help="Healthy token_mult_prob_error.")
    ] = 1.05,
    max_kl: Annotated[float, typer.Option("--max-kl", help="Healthy gen_kl_error.")] = 1e-3,
) -> None:
    """Check that rollouts train: gradients flow, and trainer log-probs match the engine's."""
    from gymcheck.checks.gradients import check_gradient_flow
    from gymcheck.checks.logprobs import agreement_result, measure_logprob_agreement
    from gymcheck.training import load_train_model

    refuse_overwrite([("--json", json_path), ("--plot", plot)], [rollouts])
    with usage_errors():
        records, notes = read_records(rollouts)
        model = load_train_model(train_model, dtype=dtype, device=device)
        loaded_tokenizer = None
        if tokenizer is not None:
            from gymcheck.loading import load_tokenizer

            loaded_tokenizer = load_tokenizer(tokenizer)
    if not records:
        usage_error(f"{rollouts}: no rollout records")

    gradient = check_gradient_flow(records, model, max_rollouts=gradient_rollouts)
    started = time.perf_counter()
    total = len(records) if max_rollouts is None else min(max_rollouts, len(records))
    try:
        agreement = _measure_with_progress(
            lambda progress: measure_logprob_agreement(
                records,
                model,
                tokenizer=loaded_tokenizer,
                temperature=temperature,
                max_rollouts=max_rollouts,
                progress=progress,
            ),
            total,
        )
        logprob = agreement_result(
            agreement, max_mult_prob_error=max_mult_prob_error, max_kl=max_kl
        )
    except Exception as exc:  # the user's model raised: a check error, not a traceback
        agreement = None
        logprob = CheckResult(
            "logprob_agreement",
            Status.ERROR,
            f"{type(exc).__name__}: {exc}".splitlines()[0],
            required=False,
        )
    logprob.duration_s = time.perf_counter() - started
    if notes:
        logprob.details.setdefault("skipped", []).extend(notes)

    report = Report([gradient, logprob], title="Training signal validation")
    from gymcheck.render.console import render_check

    for result in report.checks:
        render_check(console, result)
    console.print()
    console.print(summary_table(report))
    if plot is not None and agreement is not None and agreement.n_tokens:
        from gymcheck.render.plot import scatter_logprobs

        try:
            plot.parent.mkdir(parents=True, exist_ok=True)
            scatter_logprobs(agreement.gen, agreement.train, plot, title=f"{train_model}")
        except OSError as exc:
            usage_error(f"cannot write {plot}: {exc.strerror or exc}")
        console.print(f"Scatter plot written to {plot}")
    write_outputs(report, json_path=json_path)
    exit_with(exit_code(report))


def _measure_with_progress(measure: Any, total: int) -> Any:
    if not is_interactive():
        return measure(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("Scoring rollouts", total=total)
        return measure(lambda n: bar.advance(task, n))


def exit_code(report: Report) -> ExitCode:
    """Here both checks were asked for: a failure is exit 1 although they are optional."""
    if any(c.status is Status.ERROR for c in report.checks):
        return ExitCode.INTERNAL_ERROR
    if any(c.status is Status.FAIL for c in report.checks):
        return ExitCode.FAILED
    return ExitCode.OK


def summary_table(report: Report) -> Table:
    table = Table(title="Training signal summary", title_justify="left")
    table.add_column("check")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for result in report.checks:
        d = result.details
        rows: list[tuple[str, str]] = [("status", result.status.value)]
        if result.id == "gradient_flow":
            rows += [
                (key, f"{d[key]:.4g}" if isinstance(d[key], float) else str(d[key]))
                for key in ("samples", "generated_tokens", "mask_tokens", "loss", "grad_norm")
                if key in d
            ]
        else:
            rows += [
                (key, f"{d[key]:.4g}" if isinstance(d[key], float) else str(d[key]))
                for key in (
                    "rollouts",
                    "n_tokens",
                    "token_mult_prob_error",
                    "gen_kl_error",
                    "max_abs_diff",
                    "cause",
                )
                if key in d
            ]
        style = "green" if result.status is Status.PASS else "red"
        for k, (metric, value) in enumerate(rows):
            table.add_row(result.id if k == 0 else "", metric, value, style=style)
        table.add_section()
    return table
