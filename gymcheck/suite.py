"""The validation suite: every registered check, in order, over one context.

``run_suite`` is what ``gymcheck validate`` and ``gymcheck demo`` call. With no ``base_url``,
no ``gym_url`` and no ``rollouts``, it starts the embedded reference stack on loopback and
validates against it; with ``base_url`` alone, the embedded Gym environment collects rollouts
through the user's endpoint.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymcheck.checks.context import CheckContext, CheckOptions, RolloutInput
from gymcheck.errors import UsageError
from gymcheck.progress import StepProgress
from gymcheck.reference.faults import Fault
from gymcheck.report import Report
from gymcheck.running import ResultCallback, run_checks


@dataclass(slots=True)
class SuiteConfig:
    """What ``run_suite`` validates: the target systems, the inputs and the check options."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    tokenizer: str | None = None
    gym_url: str | None = None
    agent: str | None = None
    input_path: Path | None = None
    rollouts: Sequence[Path] = ()
    train_model: str | None = None
    reward_range: tuple[float, float] = (0.0, 1.0)
    envs: Sequence[str] | None = None
    fault: Fault | None = None
    """A fault planted in the embedded stack."""
    timeout: float = 60.0
    temperature: float = 1.0
    save_rollouts: Path | None = None
    """Write the collected rollouts here as JSONL, as NeMo Gym's rollout collection does."""
    processor: Any = None
    """The user's rollout-to-sample function: ``FILE.py:FUNC``, ``module:FUNC`` or a callable."""
    processed: Path | None = None
    """Samples the user's trainer dumped, one JSONL line per rollout, in rollout order."""
    batch_format: str = "auto"

    @property
    def uses_embedded_gym(self) -> bool:
        """No Gym URL and no rollout files: the embedded Gym environment collects rollouts."""
        return not self.gym_url and not self.rollouts


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


@contextlib.contextmanager
def _embedded_stack(config: SuiteConfig) -> Iterator[Any]:
    if not config.uses_embedded_gym:
        yield None
        return
    from gymcheck.reference.stack import start_stack

    if config.base_url is None and not torch_available():
        raise UsageError(
            "the embedded reference stack runs a model on the CPU and needs torch: "
            "pip install 'gymcheck[train]' (or pass --base-url to validate your own server)"
        )
    with start_stack(
        fault=config.fault,
        base_url=config.base_url,
        model=config.model,
        api_key=config.api_key,
        envs=config.envs,
    ) as stack:
        yield stack


def _local_model_dir(name: str | None) -> str | None:
    """A served model name that is a local directory (vLLM serves paths as names)."""
    if name and Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    return None


def _served_model(config: SuiteConfig, base_url: str) -> str | None:
    """The first model the server lists, when none was named."""
    from gymcheck.openai_client import OpenAIClient

    with (
        contextlib.suppress(Exception),
        OpenAIClient(base_url, api_key=config.api_key, timeout=config.timeout) as client,
    ):
        return str(client.models()["data"][0]["id"])
    return None


def _rollout_input(config: SuiteConfig, stack: Any, progress: StepProgress | None) -> RolloutInput:
    if config.rollouts:
        from gymcheck.rollout_inputs import RolloutFiles

        # The same scan as ``gymcheck rollouts``: same counts, findings at file:line.
        return RolloutFiles(list(config.rollouts), spool_findings=True)
    from gymcheck.collect import load_task_rows
    from gymcheck.rollout_inputs import GymCollection

    rows = list(stack.tasks) if stack is not None else []
    if config.input_path is not None:
        rows = load_task_rows(config.input_path)
    return GymCollection(
        stack.gym_url if stack is not None else config.gym_url or "",
        rows,
        agent=config.agent,
        timeout=max(config.timeout, 120.0),
        progress=progress,
        save_to=config.save_rollouts,
    )


def suite_context(config: SuiteConfig, stack: Any, progress: StepProgress | None) -> CheckContext:
    """Everything the checks need, resolved from the flags and the embedded stack.

    Raises ``GymcheckError`` subclasses for usage errors (a tokenizer that cannot be loaded).
    """
    base_url, model = config.base_url, config.model
    if stack is not None:
        base_url, model = stack.base_url, model or stack.model
    if base_url and not model:
        model = _served_model(config, base_url)
    model_dir = (
        str(stack.model_dir) if stack is not None and stack.model_dir else None
    ) or _local_model_dir(model)
    tokenizer_source = config.tokenizer or model_dir
    planted_train_model = stack.train_model if stack is not None else None
    tokenizer = None
    if tokenizer_source:
        from gymcheck.loading import load_tokenizer

        tokenizer = load_tokenizer(tokenizer_source)
    return CheckContext(
        base_url=base_url,
        model=model,
        api_key=config.api_key,
        tokenizer=tokenizer,
        rollouts=_rollout_input(config, stack, progress),
        train_model=config.train_model or planted_train_model or model_dir,
        options=CheckOptions(
            reward_range=config.reward_range,
            timeout=config.timeout,
            temperature=config.temperature,
        ),
        progress=progress,
    )


def run_suite(
    config: SuiteConfig,
    *,
    on_result: ResultCallback | None = None,
    progress: StepProgress | None = None,
) -> Report:
    """Run every registered check and return the report; ``on_result`` sees each result as it
    lands.

    Raises ``GymcheckError`` subclasses for usage errors (a tokenizer that cannot be loaded).
    """
    from gymcheck.checks.registry import check_ids
    from gymcheck.processing import Processing, load_processing

    processing = load_processing(
        processor=config.processor, processed=config.processed, batch_format=config.batch_format
    )
    if processing is None and config.uses_embedded_gym:
        from gymcheck.processing import reference

        processing = Processing(reference.LABEL, reference.process)
    with _embedded_stack(config) as stack:
        context = suite_context(config, stack, progress)
        context.processor = processing
        return run_checks(check_ids(), context, on_result=on_result)
