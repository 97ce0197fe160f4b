"""The typer application every command module registers on, with the options all share:
``--version``, ``-h``/``--help`` and shell completion (``--install-completion``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import typer.core


def _readable_help_types() -> None:
    """typer prints Python types in help (``<list[Path]>`` beside an argument's metavar,
    ``<bool>`` beside a flag): show the metavar alone, and nothing for a flag."""
    argument_type = typer.core.TyperArgument.display_type_rich
    option_type = typer.core.TyperOption.display_type_rich

    def argument(self: typer.core.TyperArgument, ctx: Any) -> str | None:
        return None if self.metavar else argument_type(self, ctx)

    def option(self: typer.core.TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag and not self.metavar else option_type(self, ctx)

    typer.core.TyperArgument.display_type_rich = argument  # type: ignore[method-assign,assignment]
    typer.core.TyperOption.display_type_rich = option  # type: ignore[method-assign,assignment]


_readable_help_types()

app = typer.Typer(
    name="gymcheck",
    help="Validate an RL training framework's integration with NVIDIA NeMo Gym, end to end.",
    epilog="Start with [bold]gymcheck validate[/] (the embedded stack, no network) or "
    "[bold]gymcheck demo --fault strip-reasoning[/]. Exit codes: 0 passed, 1 failed, "
    "2 usage error, 3 gymcheck failed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from gymcheck import __version__

        typer.echo(f"gymcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print gymcheck's version and exit.",
        ),
    ] = False,
) -> None:
    """Validate an RL training framework's integration with NVIDIA NeMo Gym, end to end."""
    from gymcheck.cli._common import human_output_on_stderr

    human_output_on_stderr(False)  # until a report claims stdout (`--json -`)
