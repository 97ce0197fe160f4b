"""Command line: a thin shell that parses flags, calls the library and renders the report."""

from __future__ import annotations

import importlib

from gymcheck.cli.app import app

_COMMAND_MODULES = (
    "validate",
    "endpoint",
    "tokenizer",
    "rollouts",
    "gradients",
    "serve",
    "checks",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"gymcheck.cli.{_name}")


def main() -> None:
    from gymcheck.redact import install_on_std_streams

    install_on_std_streams()
    app()


__all__ = ["app", "main"]
