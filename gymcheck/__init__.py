"""gymcheck: validate an RL trainer's integration with NeMo Gym, end to end.

Importing the package is cheap: torch, transformers and the servers load only when a check
that needs them runs.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Public name -> defining module. Resolved on first access to keep `import gymcheck` fast.
_EXPORTS: dict[str, str] = {
    "GymcheckError": "gymcheck.errors",
    "UsageError": "gymcheck.errors",
    "TokenizerLoadError": "gymcheck.errors",
    "RolloutFormatError": "gymcheck.errors",
    "EndpointError": "gymcheck.errors",
    "Status": "gymcheck.report",
    "Finding": "gymcheck.report",
    "CheckResult": "gymcheck.report",
    "Report": "gymcheck.report",
    "ExitCode": "gymcheck.report",
    "Turn": "gymcheck.rollout",
    "ContinuityError": "gymcheck.rollout",
    "trainable_turns": "gymcheck.rollout",
    "to_message_log": "gymcheck.rollout",
    "to_training_sequence": "gymcheck.rollout",
    "load_tokenizer": "gymcheck.loading",
    "SuiteConfig": "gymcheck.suite",
    "run_suite": "gymcheck.suite",
    "check_record": "gymcheck.checks.records",
    "diagnose_continuity": "gymcheck.checks.continuity",
    "check_token_continuity": "gymcheck.checks.continuity",
    "check_rollout_collection": "gymcheck.checks.collection",
    "check_http_endpoint": "gymcheck.checks.endpoint",
    "check_token_roundtrip": "gymcheck.checks.tokenizer",
    "scan_rollouts": "gymcheck.scan",
    "ModelLoadError": "gymcheck.errors",
    "TrainModel": "gymcheck.training",
    "load_train_model": "gymcheck.training",
    "check_gradient_flow": "gymcheck.checks.gradients",
    "gradient_flow_on_sequences": "gymcheck.checks.gradients",
    "check_logprob_agreement": "gymcheck.checks.logprobs",
    "check_training_batch": "gymcheck.checks.training_batch",
    "ProcessorLoadError": "gymcheck.errors",
    "check_batch": "gymcheck.monitor",
    "logprob_metrics": "gymcheck.monitor",
    "assert_integration": "gymcheck.testing",
    "measure_logprob_agreement": "gymcheck.checks.logprobs",
    "Collection": "gymcheck.collect",
    "collect_rollouts": "gymcheck.collect",
    "load_task_rows": "gymcheck.collect",
    "ReferenceStack": "gymcheck.reference.stack",
    "start_stack": "gymcheck.reference.stack",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'gymcheck' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
