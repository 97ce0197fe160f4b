"""The typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="gymcheck",
    help="Validate an RL training framework's integration with NVIDIA NeMo Gym, end to end.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
