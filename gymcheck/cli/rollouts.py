"""`gymcheck rollouts`."""

from __future__ import annotations

from gymcheck.cli.app import app  # noqa: F401
