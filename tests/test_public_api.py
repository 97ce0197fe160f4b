"""The public API is small and deliberate: changing it means changing this test."""

from __future__ import annotations

import subprocess
import sys

import gymcheck

PUBLIC = [
    "CheckResult",
    "ContinuityError",
    "EndpointError",
    "ExitCode",
    "Finding",
    "GymcheckError",
    "Report",
    "RolloutFormatError",
    "Status",
    "TokenizerLoadError",
    "Turn",
    "UsageError",
    "__version__",
    "check_http_endpoint",
    "check_record",
    "check_rollout_collection",
    "check_token_continuity",
    "diagnose_continuity",
    "load_tokenizer",
    "scan_rollouts",
    "ModelLoadError",
    "TrainModel",
    "load_train_model",
    "check_gradient_flow",
    "gradient_flow_on_sequences",
    "check_logprob_agreement",
    "measure_logprob_agreement",
    "check_training_batch",
    "ProcessorLoadError",
    "check_batch",
    "logprob_metrics",
    "assert_integration",
    "Collection",
    "collect_rollouts",
    "load_task_rows",
    "ReferenceStack",
    "start_stack",
    "to_message_log",
    "to_training_sequence",
    "trainable_turns",
    "check_token_roundtrip",
    "SuiteConfig",
    "run_suite",
]


def test_all_is_exactly_the_public_api():
    assert sorted(gymcheck.__all__) == sorted(PUBLIC)


def test_every_public_name_resolves():
    for name in gymcheck.__all__:
        assert getattr(gymcheck, name) is not None


def test_rollout_checks_are_plain_functions_importable_from_the_top():
    from gymcheck import check_record, check_token_continuity, diagnose_continuity

    assert check_record({"reward": 1.0})[0].code == "schema"
    assert diagnose_continuity({}) == []
    assert check_token_continuity([]).status.value == "skip"


def test_import_gymcheck_stays_light():
    code = (
        "import sys, gymcheck, gymcheck.checks.continuity, gymcheck.scan, "
        "gymcheck.checks.gradients, gymcheck.checks.logprobs, gymcheck.training, "
        "gymcheck.checks.training_batch, gymcheck.monitor, gymcheck.testing; "
        "print(any(m in sys.modules for m in ('torch', 'transformers')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
