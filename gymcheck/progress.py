"""How long steps report how far they are: the one callback shape for progress."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
"""``progress(done, total)``: ``done`` of ``total`` items (rollouts collected, scored) so far."""

StepProgress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: the same for one of several named long steps (the suite's)."""
