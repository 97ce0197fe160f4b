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
    refuse_overwrite,
    usage_error,
    usage_errors,
    write_outputs,
)
from gymcheck.cli.app import app
from gymcheck.cli.progress import suite_progress
from gymcheck.errors import UsageError
from gymcheck.reference.faults import FAULTS, parse_fault
from gymcheck.render import console as console_renderer
from gymcheck.report import ExitCode, Report
from gymcheck.suite import SuiteConfig, run_suite

SIGINT_EXIT = 130  # the shell's convention for a run stopped by Ctrl-C

JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the JSON report here.")]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")]
SaveRolloutsOpt = Annotated[
    Path | None, typer.Option(help="Write the collected rollouts here (JSONL).")
]
HtmlOpt = Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")]


def _run_and_render(
    config: SuiteConfig,
    *,
    json_path: Path | None,
    junit_path: Path | None,
    html_path: Path | None,
) -> Report:
    console_renderer.render_header(console)
    if config.base_url is None and config.uses_embedded_gym:
        _announce_reference_build()
    try:
        with usage_errors(), suite_progress(console) as progress:
            report = run_suite(
                config,
                on_result=lambda result: console_renderer.render_check(console, result),
                progress=progress,
            )
    except KeyboardInterrupt:
        # run_suite's context managers have stopped every embedded server by now.
        err_console.print("interrupted: the embedded servers were stopped")
        raise typer.Exit(SIGINT_EXIT) from None
    console_renderer.render_summary(console, report)
    write_outputs(report, json_path=json_path, junit_path=junit_path, html_path=html_path)
    return report


def _announce_reference_build() -> None:
    from gymcheck.reference.model import reference_model_dir, reference_model_is_built

    if not reference_model_is_built():
        console.print(
            f"Building the reference model into {reference_model_dir()} "
            "(first run only, about a minute on a CPU)..."
        )


@app.command()
def validate(
    base_url: Annotated[
        str | None,
        typer.Option(
            help="The OpenAI-compatible server to validate. Default: the embedded stack.",
            callback=http_url,
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Served model name.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the API key.")
    ] = None,
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer directory or cached name (offline).")
    ] = None,
    gym_url: Annotated[
        str | None,
        typer.Option(
            help="A running NeMo Gym head server, e.g. http://127.0.0.1:11000", callback=http_url
        ),
    ] = None,
    agent: Annotated[str | None, typer.Option(help="The Gym agent's server name.")] = None,
    input_path: Annotated[
        Path | None, typer.Option("--input", help="Task rows (JSONL) to run through --gym-url.")
    ] = None,
    rollouts: Annotated[
        list[Path] | None, typer.Option(help="Validate rollouts from JSONL instead of collecting.")
    ] = None,
    train_model: Annotated[
        str | None, typer.Option(help="Training model: HF directory or module:factory.")
    ] = None,
    reward_range: Annotated[str, typer.Option(help="Valid reward range LO,HI.")] = "0,1",
    env: Annotated[
        list[str] | None, typer.Option("--env", help="Embedded environment(s) to run.")
    ] = None,
    temperature: Annotated[
        float, typer.Option(help="Sampling temperature the rollouts were generated with.")
    ] = 1.0,
    save_rollouts: SaveRolloutsOpt = None,
    json_path: JsonOpt = None,
    junit_path: JunitOpt = None,
    html_path: HtmlOpt = None,
) -> None:
    """Run every check and print the summary of NeMo Gym's "Validate Your Integration" guide.

    With no --base-url it starts the embedded reference stack on loopback and validates it.
    """
    if gym_url and not input_path:
        usage_error("--gym-url needs --input TASKS.jsonl (the task rows to run)")
    refuse_overwrite(
        [
            ("--json", json_path),
            ("--junit", junit_path),
            ("--html", html_path),
            ("--save-rollouts", save_rollouts),
        ],
        [*(rollouts or []), input_path],
    )
    for path in [*(rollouts or []), *([input_path] if input_path else [])]:
        if not path.is_file():
            usage_error(f"{path}: no such file" if not path.exists() else f"{path} is not a file")
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
    )
    report = _run_and_render(
        config, json_path=json_path, junit_path=junit_path, html_path=html_path
    )
    raise typer.Exit(int(report.exit_code()))


@app.command()
def demo(
    fault: Annotated[
        str | None, typer.Option(help="Plant this integration bug (see --list-faults).")
    ] = None,
    list_faults: Annotated[
        bool, typer.Option("--list-faults", help="List the faults and the check that catches each.")
    ] = False,
    save_rollouts: SaveRolloutsOpt = None,
    json_path: JsonOpt = None,
    junit_path: JunitOpt = None,
    html_path: HtmlOpt = None,
) -> None:
    """Run the embedded stack, optionally with one planted bug, and validate it."""
    if list_faults:
        for info in FAULTS.values():
            console.print(
                f"{info.fault.value:<22} {info.caught_by:<20} {info.description}", soft_wrap=True
            )
        raise typer.Exit(int(ExitCode.OK))
    try:
        planted = parse_fault(fault)
    except UsageError as exc:
        usage_error(str(exc))
    if planted is not None:
        info = FAULTS[planted]
        console.print(
            f"Planting fault [bold]{planted.value}[/] ({info.description}); "
            f"[bold]{info.caught_by}[/] must catch it.\n"
        )
    refuse_overwrite(
        [
            ("--json", json_path),
            ("--junit", junit_path),
            ("--html", html_path),
            ("--save-rollouts", save_rollouts),
        ],
        [],
    )
    report = _run_and_render(
        SuiteConfig(fault=planted, save_rollouts=save_rollouts),
        json_path=json_path,
        junit_path=junit_path,
        html_path=html_path,
    )
    raise typer.Exit(int(report.exit_code()))
