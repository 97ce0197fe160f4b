"""The check registry: every check's id, order, required flag and the inputs it needs.

A check is a plain function ``(ctx: CheckContext) -> CheckResult`` registered with ``@check``
(as schemathesis' ``@check``) in its own module. The suite, the single-check commands and
``gymcheck checks`` all read the checks from here, in ``order``. What people read about a check
(its console heading, what a pass proves) is written render-side, in ``gymcheck.render.words``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from gymcheck.checks.context import CheckContext
    from gymcheck.report import CheckResult

Need = Literal["base_url", "tokenizer", "rollouts", "train_model", "processor"]
"""An input a check cannot run without (``CheckContext.unmet`` says why it is missing)."""

CheckFunction = Callable[["CheckContext"], "CheckResult"]

# The modules whose ``@check`` functions make up the registry, imported on first lookup.
CHECK_MODULES = (
    "gymcheck.checks.endpoint.check",
    "gymcheck.checks.tokenizer",
    "gymcheck.checks.collection",
    "gymcheck.checks.continuity.check",
    "gymcheck.checks.training_batch.check",
    "gymcheck.checks.gradients.check",
    "gymcheck.checks.logprobs.check",
)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    order: int
    """Checks run in ascending order; gaps leave room for more."""
    required: bool
    """Whether the run fails when this check fails (DESIGN.md section 1)."""
    needs: tuple[Need, ...]
    run: CheckFunction


_REGISTRY: dict[str, CheckSpec] = {}


def check(
    check_id: str,
    *,
    order: int,
    required: bool,
    needs: tuple[Need, ...] = (),
) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated ``(ctx) -> CheckResult`` function as check ``check_id``."""

    def register(run: CheckFunction) -> CheckFunction:
        _REGISTRY[check_id] = CheckSpec(check_id, order, required, needs, run)
        return run

    return register


def registered() -> list[CheckSpec]:
    """Every check, in running order."""
    for module in CHECK_MODULES:
        importlib.import_module(module)
    return sorted(_REGISTRY.values(), key=lambda spec: spec.order)


def check_ids() -> tuple[str, ...]:
    """Every check id, in running order."""
    return tuple(spec.id for spec in registered())


def spec_of(check_id: str) -> CheckSpec:
    """The registered check ``check_id``; ``KeyError`` for an unknown id."""
    if check_id not in _REGISTRY:
        registered()
    return _REGISTRY[check_id]
