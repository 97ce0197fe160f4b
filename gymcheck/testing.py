"""For users' own CI: assert that their processing makes faithful samples of recorded rollouts.

    from gymcheck.testing import assert_integration

    def test_my_processor():
        assert_integration("tests/data/rollouts.jsonl", my_trainer.process_rollout,
                           tokenizer="Qwen/Qwen3-0.6B")

A failure raises ``AssertionError`` whose message is the findings as gymcheck's console
prints them: the code, the rollout and token, both decoded sides, and the fix.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

from gymcheck.checks.training_batch import check_training_batch
from gymcheck.errors import UsageError
from gymcheck.processing.load import Processor
from gymcheck.report import CheckResult, Status

Rollouts = str | os.PathLike[str] | Sequence[Mapping[str, Any]]


def _records(rollouts: Rollouts) -> list[Mapping[str, Any]]:
    if not isinstance(rollouts, str | os.PathLike):
        return list(rollouts)
    from gymcheck.jsonl import iter_values

    records = []
    for number, value, problem in iter_values(rollouts):
        if problem is not None:
            raise UsageError(f"{os.fspath(rollouts)}:{number}: {problem}")
        records.append(value)
    return records


def render_result(result: CheckResult, *, width: int = 120) -> str:
    """``result`` as gymcheck's console prints it, as plain text."""
    from rich.console import Console

    from gymcheck.render.console import render_check

    buffer = io.StringIO()
    render_check(Console(file=buffer, width=width, no_color=True, emoji=False), result)
    return buffer.getvalue()


def assert_integration(
    rollouts: Rollouts,
    processor: str | Processor | None = None,
    *,
    processed: str | os.PathLike[str] | None = None,
    tokenizer: Any = None,
    batch_format: str = "auto",
) -> CheckResult:
    """Run ``training_batch`` on ``rollouts`` (a JSONL path or records); raise on any finding.

    ``processor`` is the function (or ``FILE.py:FUNC`` / ``module:FUNC``); ``processed`` the
    samples a trainer dumped instead. ``tokenizer`` (an object, a path or a name) decodes the
    text around each finding and names re-tokenization causes.
    """
    __tracebackhide__ = True  # pytest shows the findings, not this frame
    if processor is None and processed is None:
        raise UsageError("assert_integration needs a processor or a processed file")
    if isinstance(tokenizer, str | os.PathLike):
        from gymcheck.loading import load_tokenizer

        tokenizer = load_tokenizer(os.fspath(tokenizer))
    result = check_training_batch(
        _records(rollouts),
        processor=processor,
        processed=processed,
        batch_format=batch_format,
        tokenizer=tokenizer,
    )
    if result.status is not Status.PASS:
        raise AssertionError(render_result(result))
    return result
