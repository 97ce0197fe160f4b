"""`gymcheck gradients`: gradient flow and train/inference log-prob agreement over rollouts."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gymcheck.checks.gradients import CHECK_ID as GRADIENT_FLOW
from gymcheck.checks.logprobs import CHECK_ID as LOGPROB_AGREEMENT
from gymcheck.checks.training_batch import CHECK_ID as TRAINING_BATCH
from gymcheck.cli._common import (
    console,
    err_console,
    exit_with,
    optional_tokenizer,
    usage_error,
    usage_errors,
)
from gymcheck.cli.app import app
from gymcheck.cli.options import option_groups, shared
from gymcheck.cli.output import Output
from gymcheck.cli.processing_options import ProcessingOptions
from gymcheck.cli.progress import suite_progress
from gymcheck.report import CheckResult, Report, Status
from gymcheck.running import run_checks

TRAINING_CHECKS = (GRADIENT_FLOW, LOGPROB_AGREEMENT)

MODEL = "Training model"
THRESHOLDS = "Thresholds"


class Dtype(StrEnum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"
    float64 = "float64"


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


@app.command(
    "gradients",
    epilog="Example: [bold]gymcheck gradients --rollouts rollouts.jsonl --train-model "
    "/models/qwen3 --plot logprobs.png --html training.html[/]",
)
@option_groups
def gradients(
    rollouts: Annotated[Path, shared("--rollouts", "Rollout JSONL written by NeMo Gym.")],
    train_model: Annotated[
        str,
        shared(
            "--train-model",
            "Hugging Face model directory, or module:factory (file.py:factory) returning a "
            "torch.nn.Module that maps input_ids [1,T] to logits [1,T,V].",
            rich_help_panel=MODEL,
        ),
    ],
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE",
            help="Write a scatter plot (PNG) of trainer vs engine log-probs.",
            rich_help_panel="Reports",
        ),
    ] = None,
    temperature: Annotated[
        float,
        shared(
            "--temperature",
            "Sampling temperature of the rollouts.",
            min=1e-6,
            rich_help_panel=MODEL,
        ),
    ] = 1.0,
    dtype: Annotated[
        Dtype, typer.Option("--dtype", help="The training model's dtype.", rich_help_panel=MODEL)
    ] = Dtype.float32,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            metavar="DEVICE",
            help="Where to run the training model (cpu, cuda, cuda:1).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    tokenizer: Annotated[
        str | None,
        shared(
            "--tokenizer",
            "Tokenizer for decoded text (default: the model's).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    max_rollouts: Annotated[
        int | None,
        typer.Option("--max-rollouts", metavar="N", min=1, help="Score only the first N rollouts."),
    ] = None,
    gradient_rollouts: Annotated[
        int,
        typer.Option(
            "--gradient-rollouts", metavar="N", min=1, help="Rollouts in the gradient step."
        ),
    ] = 4,
    max_mult_prob_error: Annotated[
        float,
        typer.Option(
            "--max-mult-prob-error",
            metavar="X",
            help="Healthy token_mult_prob_error.",
            rich_help_panel=THRESHOLDS,
        ),
    ] = 1.05,
    max_kl: Annotated[
        float,
        typer.Option(
            "--max-kl", metavar="X", help="Healthy gen_kl_error.", rich_help_panel=THRESHOLDS
        ),
    ] = 1e-3,
    *,
    trainer: ProcessingOptions,
    output: Output,
) -> None:
    """Check that rollouts train: gradients flow, and trainer log-probs match the engine's."""
    from gymcheck.checks.context import CheckContext, CheckOptions
    from gymcheck.processing import load_processing
    from gymcheck.rollout_inputs import RecordList
    from gymcheck.training import load_train_model

    output.refuse_overwrite([rollouts, trainer.processed], ("--plot", plot))
    output.start(target=f"{rollouts} with {train_model}")
    with usage_errors():
        records, notes = read_records(rollouts)
        model = load_train_model(train_model, dtype=dtype.value, device=device)
        loaded_tokenizer = optional_tokenizer(tokenizer)
        processing = load_processing(
            processor=trainer.processor,
            processed=trainer.processed,
            batch_format=trainer.batch_format.value,
        )
    if not records:
        usage_error(f"{rollouts}: no rollout records")

    for note in notes:
        err_console.print(f"skipped (not a rollout record): {note}", soft_wrap=True)

    context = CheckContext(
        tokenizer=loaded_tokenizer,
        rollouts=RecordList(records),
        train_model=model,
        processor=processing,
        options=CheckOptions(
            temperature=temperature,
            gradient_rollouts=gradient_rollouts,
            max_rollouts=max_rollouts,
            max_mult_prob_error=max_mult_prob_error,
            max_kl=max_kl,
        ),
    )
    with usage_errors(), suite_progress(err_console) as progress:
        context.progress = progress
        # The checks were asked for by name: a failure fails the run although two are optional.
        # training_batch joins them when a processor (or processed file) is given.
        checks = (TRAINING_BATCH, *TRAINING_CHECKS) if processing else TRAINING_CHECKS
        report = run_checks(
            checks,
            context,
            title="Training signal validation",
            on_result=output.check,
            required=TRAINING_CHECKS,
        )
    console.print()
    console.print(summary_table(report))
    if plot is not None:
        _write_plot(report.checks[-1], plot, model=train_model)
    output.finish(report)
    exit_with(report.exit_code())


def _write_plot(result: CheckResult, path: Path, *, model: str) -> None:
    """The scatter plot, or one line saying why there is none."""
    from gymcheck.render.plot import plot_title, scatter_logprobs, why_no_plot

    reason = why_no_plot(result)
    if reason is not None:
        console.print(f"No plot written to {path}: {reason}", soft_wrap=True)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        gen, train = result.series["gen"], result.series["train"]
        scatter_logprobs(gen, train, path, title=plot_title(result, model=model))
    except OSError as exc:
        usage_error(f"cannot write {path}: {exc.strerror or exc}")
    console.print(f"Scatter plot written to {path}")


def summary_table(report: Report) -> Table:
    table = Table(title="Training signal summary", title_justify="left")
    table.add_column("check")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for result in report.checks:
        d = result.details
        rows: list[tuple[str, str]] = [("status", result.status.value)]
        if result.id == TRAINING_BATCH:
            rows += [(key, str(d[key])) for key in ("processing", "samples", "codes") if d.get(key)]
        elif result.id == GRADIENT_FLOW:
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
