"""The validation suite: runs the checks in order, feeding one's output to the next.

``run_suite`` is what ``gymcheck validate`` and ``gymcheck demo`` call. With no ``base_url``,
no ``gym_url`` and no ``rollouts``, it starts the embedded reference stack on loopback and
validates against it; with ``base_url`` alone, the embedded Gym environment collects rollouts
through the user's endpoint.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymcheck.errors import UsageError
from gymcheck.progress import StepProgress
from gymcheck.reference.faults import Fault
from gymcheck.report import CheckResult, Finding, Report, Status
from gymcheck.running import run_check

ResultCallback = Callable[[CheckResult], None]

CHECK_ORDER = (
    "http_endpoint",
    "token_roundtrip",
    "rollout_collection",
    "token_continuity",
    "training_batch",
    "gradient_flow",
    "logprob_agreement",
)


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


@dataclass(slots=True)
class _Inputs:
    """What earlier steps hand to later ones."""

    base_url: str | None = None
    model: str | None = None
    tokenizer: Any = None
    tokenizer_source: str | None = None
    train_model: str | None = None
    records: list[Any] = field(default_factory=list)
    processing: Any = None
    """The user's ``Processing`` (``--processor`` / ``--processed``), or ``None``."""
    batches: Any = None
    """Each rollout's processed samples and their findings, once ``training_batch`` ran."""
    collection_findings: list[Finding] = field(default_factory=list)
    scanned_continuity: CheckResult | None = None
    """``token_continuity`` of rollout files, from the same scan as ``gymcheck rollouts``."""
    gym_url: str | None = None
    rows: list[Any] = field(default_factory=list)


def skip(check_id: str, reason: str, *, required: bool = True) -> CheckResult:
    return CheckResult(id=check_id, status=Status.SKIP, summary=reason, required=required)


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


def _resolve_inputs(config: SuiteConfig, stack: Any) -> _Inputs:
    inputs = _Inputs(base_url=config.base_url, model=config.model, gym_url=config.gym_url)
    if stack is not None:
        inputs.base_url = stack.base_url
        inputs.model = inputs.model or stack.model
        inputs.gym_url = stack.gym_url
        inputs.rows = list(stack.tasks)
    if inputs.base_url and not inputs.model:
        from gymcheck.openai_client import OpenAIClient

        with (
            contextlib.suppress(Exception),
            OpenAIClient(inputs.base_url, api_key=config.api_key, timeout=config.timeout) as client,
        ):
            inputs.model = client.models()["data"][0]["id"]
    model_dir = (
        str(stack.model_dir) if stack is not None and stack.model_dir else None
    ) or _local_model_dir(inputs.model)
    inputs.tokenizer_source = config.tokenizer or model_dir
    planted_train_model = stack.train_model if stack is not None else None
    inputs.train_model = config.train_model or planted_train_model or model_dir
    return inputs


def _load_tokenizer(inputs: _Inputs) -> None:
    if inputs.tokenizer_source:
        from gymcheck.loading import load_tokenizer

        inputs.tokenizer = load_tokenizer(inputs.tokenizer_source)


def _http_endpoint(config: SuiteConfig, inputs: _Inputs) -> CheckResult:
    if not inputs.base_url:
        return skip("http_endpoint", "no --base-url: the endpoint is not part of this run")
    from gymcheck.checks.endpoint import check_http_endpoint

    return check_http_endpoint(
        inputs.base_url,
        model=inputs.model,
        api_key=config.api_key,
        timeout=config.timeout,
        tokenizer=inputs.tokenizer,
    )


def _token_roundtrip(inputs: _Inputs) -> CheckResult:
    if inputs.tokenizer is None:
        return skip("token_roundtrip", "no tokenizer: pass --tokenizer PATH|NAME")
    from gymcheck.checks.tokenizer import check_token_roundtrip

    return check_token_roundtrip(inputs.tokenizer)


def _gather_records(config: SuiteConfig, inputs: _Inputs, progress: StepProgress | None) -> None:
    from gymcheck.collect import collect_rollouts, load_task_rows

    if config.input_path is not None:
        inputs.rows = load_task_rows(config.input_path)
    collection = collect_rollouts(
        inputs.gym_url or "",
        inputs.rows,
        agent=config.agent,
        timeout=max(config.timeout, 120.0),
        progress=(lambda done, total: progress("Collecting rollouts", done, total))
        if progress
        else None,
    )
    inputs.records.extend(collection.records)
    inputs.collection_findings.extend(collection.findings)
    if config.save_rollouts is not None:
        _write_jsonl(config.save_rollouts, collection.records)


def _write_jsonl(path: Path, records: Sequence[Any]) -> None:
    import orjson

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")


def _scan_rollout_files(config: SuiteConfig, inputs: _Inputs) -> CheckResult:
    """Both rollout checks over the files exactly as ``gymcheck rollouts`` makes them (same
    counts, findings at ``file:line``); the records that parse stay for the training checks."""
    from gymcheck.jsonl import iter_values
    from gymcheck.scan import scan

    collection, inputs.scanned_continuity = scan(
        config.rollouts,
        tokenizer=inputs.tokenizer,
        reward_range=config.reward_range,
        spool_findings=True,
    ).results()
    for path in config.rollouts:
        inputs.records.extend(record for _, record, problem in iter_values(path) if not problem)
    return collection


def _rollout_collection(
    config: SuiteConfig, inputs: _Inputs, progress: StepProgress | None
) -> CheckResult:
    from gymcheck.checks.collection import check_rollout_collection

    if config.rollouts:
        return _scan_rollout_files(config, inputs)
    _gather_records(config, inputs, progress)
    vocab_size = len(inputs.tokenizer) if inputs.tokenizer is not None else None
    result = check_rollout_collection(
        inputs.records, reward_range=config.reward_range, vocab_size=vocab_size
    )
    if inputs.collection_findings:
        result.findings[:0] = inputs.collection_findings
        failed = sum(f.severity == "error" for f in inputs.collection_findings)
        if failed and result.status is Status.PASS:
            result.status = Status.FAIL
            result.summary = f"{failed} rollouts could not be collected; {result.summary}"
    return result


def _token_continuity(inputs: _Inputs) -> CheckResult:
    if inputs.scanned_continuity is not None:
        return inputs.scanned_continuity
    if not inputs.records:
        return skip("token_continuity", "no rollouts to check")
    from gymcheck.checks.continuity import check_token_continuity

    return check_token_continuity(inputs.records, tokenizer=inputs.tokenizer)


def _training_skip_reason(inputs: _Inputs) -> str | None:
    if not torch_available():
        return "torch is not installed: pip install 'gymcheck[train]'"
    if not inputs.train_model:
        return "no training model: pass --train-model PATH"
    if not inputs.records:
        return "no rollouts to train on"
    return None


def _training_batch(inputs: _Inputs) -> CheckResult:
    if inputs.processing is None:
        return skip(
            "training_batch",
            "no --processor or --processed: the trainer's own processing is not part of this run",
        )
    if not inputs.records:
        return skip("training_batch", "no rollouts to process")
    from gymcheck.checks.training_batch import process_batch, training_batch_result

    inputs.batches = process_batch(inputs.records, inputs.processing, tokenizer=inputs.tokenizer)
    return training_batch_result(inputs.batches, inputs.processing.label)


def _user_samples(inputs: _Inputs) -> dict[str, Any]:
    """The user's samples for the training checks, when ``training_batch`` made them."""
    if inputs.processing is None or inputs.batches is None:
        return {}
    return {"batches": inputs.batches, "label": inputs.processing.label}


def _gradient_flow(inputs: _Inputs, model: Any) -> CheckResult:
    from gymcheck.checks.training_batch.samples import gradient_flow_for

    return gradient_flow_for(inputs.records, model, **_user_samples(inputs))


def _logprob_agreement(
    config: SuiteConfig, inputs: _Inputs, model: Any, progress: StepProgress | None
) -> CheckResult:
    from gymcheck.checks.training_batch.samples import logprob_agreement_for

    return logprob_agreement_for(
        inputs.records,
        model,
        **_user_samples(inputs),
        tokenizer=inputs.tokenizer,
        temperature=config.temperature,
        progress=(lambda done, total: progress("Recomputing log-probs", done, total))
        if progress
        else None,
    )


def _training_checks(
    config: SuiteConfig, inputs: _Inputs, progress: StepProgress | None
) -> Iterator[CheckResult]:
    reason = _training_skip_reason(inputs)
    if reason:
        yield skip("gradient_flow", reason, required=False)
        yield skip("logprob_agreement", reason, required=False)
        return
    from gymcheck.training import load_train_model

    model = load_train_model(inputs.train_model or "")
    yield run_check("gradient_flow", lambda: _gradient_flow(inputs, model), required=False)
    yield run_check(
        "logprob_agreement",
        lambda: _logprob_agreement(config, inputs, model, progress),
        required=False,
    )


def iter_suite(
    config: SuiteConfig, *, progress: StepProgress | None = None
) -> Iterator[CheckResult]:
    """Each check's result as soon as it is known, in ``CHECK_ORDER``.

    Raises ``GymcheckError`` subclasses for usage errors (a tokenizer that cannot be loaded).
    """
    from gymcheck.processing import Processing, load_processing

    processing = load_processing(
        processor=config.processor, processed=config.processed, batch_format=config.batch_format
    )
    if processing is None and config.uses_embedded_gym:
        from gymcheck.processing import reference

        processing = Processing(reference.LABEL, reference.process)
    with _embedded_stack(config) as stack:
        inputs = _resolve_inputs(config, stack)
        inputs.processing = processing
        _load_tokenizer(inputs)
        yield run_check("http_endpoint", lambda: _http_endpoint(config, inputs))
        yield run_check("token_roundtrip", lambda: _token_roundtrip(inputs))
        yield run_check("rollout_collection", lambda: _rollout_collection(config, inputs, progress))
        yield run_check("token_continuity", lambda: _token_continuity(inputs))
        yield run_check("training_batch", lambda: _training_batch(inputs))
        yield from _training_checks(config, inputs, progress)


def run_suite(
    config: SuiteConfig,
    *,
    on_result: ResultCallback | None = None,
    progress: StepProgress | None = None,
) -> Report:
    """Run every check and return the report; ``on_result`` sees each result as it lands."""
    report = Report()
    for result in iter_suite(config, progress=progress):
        report.checks.append(result)
        if on_result is not None:
            on_result(result)
    return report
