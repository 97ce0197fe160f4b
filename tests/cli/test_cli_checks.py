"""`gymcheck checks` prints the registry."""

from __future__ import annotations

from typer.testing import CliRunner

from gymcheck.checks.registry import registered
from gymcheck.cli import app


def test_checks_lists_every_registered_check_with_required_and_needs() -> None:
    result = CliRunner().invoke(app, ["checks"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for spec in registered():
        [row] = [line for line in lines if f" {spec.id} " in line]
        assert ("yes" if spec.required else "no") in row
    endpoint = next(line for line in lines if " http_endpoint " in line)
    assert "--base-url" in endpoint
    gradient = next(line for line in lines if " gradient_flow " in line)
    assert "--train-model and torch" in gradient
