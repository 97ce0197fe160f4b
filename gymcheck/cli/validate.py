"""`gymcheck validate` and `gymcheck demo`: the whole suite, against real systems or the
embedded reference stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymcheck.cli._common import (
    api_key_from_env,
    console,
    err_console,
    http_url,
    parse_reward_range,
    usage_error,
    usage_errors,
)
from gymcheck.cli.app import app
from gymcheck.cli.options import option_groups, shared
from gymcheck.cli.output import Output
from gymcheck.cli.processing_options import ProcessingOptions
from gymcheck.cli.progress import suite_progress
from gymcheck.reference.faults import FAULTS, Fault
from gymcheck.render import console as console_renderer
from gymcheck.report import ExitCode, Report
from gymcheck.suite import SuiteConfig, run_suite

SIGINT_EXIT = 130  # the shell's convention for a run stopped by Ctrl-C

TARGET = "What to validate"
TRAINING = "Training"
SaveRolloutsOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE", help="Write the collected rollouts here (JSONL).", rich_help_panel="Reports"
    ),
]


def _run_and_render(config: SuiteConfig, output: Output) -> Report:
    console_renderer.render_header(console)
    if config.base_url is None and config.uses_embedded_gym:
        _announce_reference_build()
    try:
        with usage_errors(), suite_progress(console) as progress:
            report = run_suite(config, on_result=output.check, progress=progress)
    except KeyboardInterrupt:
        # run_suite's context managers have stopped every embedded server by now.
        err_console.print("interrupted: the embedded servers were stopped")
        raise typer.Exit(SIGINT_EXIT) from None
    console_renderer.render_summary(console, report)
    output.finish(report)
    return report


def _target(config: SuiteConfig) -> str:
    parts = [
        f"endpoint {config.base_url}" if config.base_url else "the embedded model server",
        f"Gym {config.gym_url}" if config.gym_url else None,
        f"rollouts {', '.join(map(str, config.rollouts))}" if config.rollouts else None,
        f"fault {config.fault}" if config.fault else None,
        f"processor {config.processor}" if config.processor else None,
        f"processed {config.processed}" if config.processed else None,
    ]
    return "; ".join(p for p in parts if p)


def _announce_reference_build() -> None:
    from gymcheck.reference.model import reference_model_dir, reference_model_is_built

    if not reference_model_is_built():
        console.print(
            f"Building the reference model into {reference_model_dir()} "
            "(first run only, about a minute on a CPU)..."
        )


@app.command(
    epilog="Example: [bold]gymcheck validate --base-url http://localhost:8000/v1 --tokenizer "
    "/models/qwen3 --html report.html --junit report.xml[/]"
)
@option_groups
def validate(
    base_url: Annotated[
        str | None,
        shared(
            "--base-url",
            "The OpenAI-compatible server to validate. Default: the embedded stack.",
            rich_help_panel=TARGET,
        ),
    ] = None,
    model: Annotated[
        str | None, shared("--model", "Served model name.", rich_help_panel=TARGET)
    ] = None,
    api_key_env: Annotated[
        str | None,
        shared(
            "--api-key-env",
            "Environment variable holding the API key (never printed).",
            rich_help_panel=TARGET,
        ),
    ] = None,
    tokenizer: Annotated[
        str | None,
        shared(
            "--tokenizer", "Tokenizer directory or cached name (offline).", rich_help_panel=TARGET
        ),
    ] = None,
    gym_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            callback=http_url,
            help="A running NeMo Gym head server, e.g. http://127.0.0.1:11000",
            rich_help_panel=TARGET,
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="The Gym agent for every row, by instance name (as agent_ref.name and "
            "`gym eval run --agent`), or its implementation name when only one agent has it. "
            "Default: each row's agent_ref, else its task_source.",
            rich_help_panel=TARGET,
        ),
    ] = None,
    input_path: Annotated[
        Path | None,
        typer.Option(
            "--input",
            metavar="FILE",
            help="Task rows (JSONL) to run through --gym-url.",
            rich_help_panel=TARGET,
        ),
    ] = None,
    rollouts: Annotated[
        list[Path] | None,
        shared(
            "--rollouts",
            "Validate rollouts from JSONL instead of collecting (repeatable).",
            rich_help_panel=TARGET,
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env", metavar="NAME", help="Embedded environment(s) to run.", rich_help_panel=TARGET
        ),
    ] = None,
    reward_range: Annotated[
        str, shared("--reward-range", "Valid reward range.", rich_help_panel=TARGET)
    ] = "0,1",
    train_model: Annotated[
        str | None,
        shared(
            "--train-model",
            "Training model: HF directory or module:factory.",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    temperature: Annotated[
        float,
        shared(
            "--temperature",
            "Sampling temperature the rollouts were generated with.",
            rich_help_panel=TRAINING,
        ),
    ] = 1.0,
    *,
    trainer: ProcessingOptions,
    save_rollouts: SaveRolloutsOpt = None,
    output: Output,
) -> None:
    """Run every check and print the summary of NeMo Gym's "Validate Your Integration" guide.

    With no --base-url it starts the embedded reference stack on loopback and validates it.
    """
    if gym_url and not input_path:
        usage_error("--gym-url needs --input TASKS.jsonl (the task rows to run)")
    output.refuse_overwrite(
        [*(rollouts or []), input_path, trainer.processed], ("--save-rollouts", save_rollouts)
    )
    if trainer.processor and trainer.processed:
        usage_error("pass --processor or --processed, not both")
    with usage_errors():
        from gymcheck.files import check_input_file
        from gymcheck.scan import check_paths

        if rollouts:
            check_paths(rollouts)  # a FIFO, a device, a .zst without zstandard: exit 2 now
        for path in (input_path, trainer.processed):
            if path is not None:
                check_input_file(path)
    config = SuiteConfig(
        base_url=base_url,
        model=model,
        api_key=api_key_from_env(api_key_env),
        tokenizer=tokenizer,
        gym_url=gym_url,
        agent=agent,
        input_path=input_path,
        rollouts=tuple(rollouts or ()),
        train_model=train_model,
        reward_range=parse_reward_range(reward_range),
        envs=tuple(env) if env else None,
        temperature=temperature,
        save_rollouts=save_rollouts,
        processor=trainer.processor,
        processed=trainer.processed,
        batch_format=trainer.batch_format.value,
    )
    output.start(target=_target(config))
    report = _run_and_render(config, output)
    raise typer.Exit(int(report.exit_code()))


@app.command(
    epilog="Example: [bold]gymcheck demo --fault strip-reasoning --html report.html --json -[/]"
)
@option_groups
def demo(
    fault: Annotated[
        Fault | None,
        typer.Option(
            metavar="NAME",
            help="Plant this integration bug: " + ", ".join(f.value for f in Fault) + ".",
            show_default=False,
        ),
    ] = None,
    list_faults: Annotated[
        bool,
        typer.Option("--list-faults", help="List the faults and the check that catches each."),
    ] = False,
    save_rollouts: SaveRolloutsOpt = None,
    *,
    output: Output,
) -> None:
    """Run the embedded stack, optionally with one planted bug, and validate it."""
    if list_faults:
        for info in FAULTS.values():
            console.print(
                f"{info.fault.value:<22} {info.caught_by:<20} {info.description}", soft_wrap=True
            )
        raise typer.Exit(int(ExitCode.OK))
    planted = fault
    output.start(target="the embedded reference stack" + (f", fault {planted}" if planted else ""))
    if planted is not None:
        info = FAULTS[planted]
        console.print(
            f"Planting fault [bold]{planted.value}[/] ({info.description}); "
            f"[bold]{info.caught_by}[/] must catch it.\n"
        )
    output.refuse_overwrite([], ("--save-rollouts", save_rollouts))
    config = SuiteConfig(fault=planted, save_rollouts=save_rollouts)
    report = _run_and_render(config, output)
    raise typer.Exit(int(report.exit_code()))
