"""`gymcheck checks`: the registered checks, in running order."""

from __future__ import annotations

from rich.table import Table

from gymcheck.cli._common import console
from gymcheck.cli.app import app

# What each input is, in the words of the command line.
NEEDS: dict[str, str] = {
    "base_url": "--base-url",
    "tokenizer": "--tokenizer",
    "rollouts": "rollouts (Gym or --rollouts)",
    "train_model": "--train-model and torch",
    "processor": "--processor or --processed",
}


@app.command("checks")
def checks() -> None:
    """List the checks: id, whether it is required, what it proves and what it needs."""
    from gymcheck.checks.registry import registered
    from gymcheck.render.words import proves

    table = Table(title="Registered checks, in running order", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("required")
    table.add_column("proves")
    table.add_column("needs")
    for spec in registered():
        table.add_row(
            spec.id,
            "yes" if spec.required else "no",
            proves(spec.id),
            ", ".join(NEEDS.get(need, need) for need in spec.needs) or "—",
        )
    console.print(table)
