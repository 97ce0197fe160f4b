"""`gymcheck gradients`: gradient flow and train/inference log-prob agreement over rollouts."""

from __future__ import annotations

import time
from enum import StrEnum
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
)
from gymcheck.cli.app import app
from gymcheck.cli.output import (
    FormatOpt,
    HtmlOpt,
    JsonOpt,
    JunitOpt,
    Output,
    OutputFormat,
    QuietOpt,
    VerboseOpt,
)
from gymcheck.cli.processing_options import (
    BatchFormat,
    BatchFormatOpt,
    ProcessedOpt,
    ProcessorOpt,
)
from gymcheck.report import CheckResult, ExitCode, Report, Status

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
def gradients(
    rollouts: Annotated[
        Path,
        typer.Option("--rollouts", metavar="FILE", help="Rollout JSONL written by NeMo Gym."),
    ],
    train_model: Annotated[
        str,
        typer.Option(
            "--train-model",
            metavar="PATH|MODULE:FN",
            help="Hugging Face model directory, or module:factory (file.py:factory) returning "
            "a torch.nn.Module that maps input_ids [1,T] to logits [1,T,V].",
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
        typer.Option(
            "--temperature",
            metavar="T",
            min=1e-6,
            help="Sampling temperature of the rollouts.",
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
        typer.Option(
            "--tokenizer",
            metavar="PATH|NAME",
            help="Tokenizer for decoded text (default: the model's).",
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
    processor: ProcessorOpt = None,
    processed: ProcessedOpt = None,
    batch_format: BatchFormatOpt = BatchFormat.auto,
    json_path: JsonOpt = None,
    junit_path: JunitOpt = None,
    html_path: HtmlOpt = None,
    output_format: FormatOpt = OutputFormat.console,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Check that rollouts train: gradients flow, and trainer log-probs match the engine's."""
    from gymcheck.checks.logprobs import agreement_result, measure_logprob_agreement
    from gymcheck.checks.training_batch import process_batch, training_batch_result
    from gymcheck.checks.training_batch.samples import (
        OWN_PROCESSING,
        agreement_samples,
        gradient_flow_for,
        name_processing,
    )
    from gymcheck.processing import load_processing
    from gymcheck.training import load_train_model

    refuse_overwrite(
        [("--json", json_path), ("--junit", junit_path), ("--html", html_path), ("--plot", plot)],
        [rollouts, processed],
    )
    output = Output(
        json_path,
        junit_path,
        html_path,
        output_format,
        quiet,
        verbose,
        target=f"{rollouts} with {train_model}",
    )
    with usage_errors():
        records, notes = read_records(rollouts)
        model = load_train_model(train_model, dtype=dtype.value, device=device)
        loaded_tokenizer = None
        if tokenizer is not None:
            from gymcheck.loading import load_tokenizer

            loaded_tokenizer = load_tokenizer(tokenizer)
        processing = load_processing(
            processor=processor, processed=processed, batch_format=batch_format.value
        )
    if not records:
        usage_error(f"{rollouts}: no rollout records")

    checks: list[CheckResult] = []
    batches = None
    label = OWN_PROCESSING
    if processing is not None:
        label = processing.label
        batches = process_batch(records, processing, tokenizer=loaded_tokenizer or model.tokenizer)
        checks.append(training_batch_result(batches, label))
    gradient = gradient_flow_for(
        records, model, batches=batches, label=label, max_rollouts=gradient_rollouts
    )
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
                samples=agreement_samples(batches) if batches is not None else None,
            ),
            total,
        )
        logprob = name_processing(
            agreement_result(agreement, max_mult_prob_error=max_mult_prob_error, max_kl=max_kl),
            label,
        )
    except Exception as exc:  # the user's model raised: a check error, not a traceback
        logprob = CheckResult(
            "logprob_agreement",
            Status.ERROR,
            f"{type(exc).__name__}: {exc}".splitlines()[0],
            required=False,
        )
    logprob.duration_s = time.perf_counter() - started
    if notes:
        logprob.details.setdefault("skipped", []).extend(notes)

    report = Report([*checks, gradient, logprob], title="Training signal validation")
    for result in report.checks:
        output.check(result)
    console.print()
    console.print(summary_table(report))
    if plot is not None:
        _write_plot(logprob, plot, model=train_model)
    output.finish(report)
    exit_with(exit_code(report))


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
        return measure(lambda done, _total: bar.update(task, completed=done))


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
        if result.id == "training_batch":
            rows += [(key, str(d[key])) for key in ("processing", "samples", "codes") if d.get(key)]
        elif result.id == "gradient_flow":
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
