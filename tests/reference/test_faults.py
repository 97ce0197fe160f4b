"""The planted faults that live outside the HTTP layers: each one breaks the check meant to
catch it, on the real reference model (the end-to-end runs are in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymcheck.reference.faults import (
    DETACHED_PARAMETER_MODEL,
    FAULTS,
    Fault,
    ServerFaults,
    serve_with_wrong_tokenizer,
)
from gymcheck.reference.model import ensure_reference_model
from gymcheck.report import Status


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return ensure_reference_model()


def test_every_fault_names_a_layer_and_the_check_that_catches_it() -> None:
    assert set(FAULTS) == set(Fault)
    assert FAULTS[Fault.WRONG_TOKENIZER].caught_by == "token_roundtrip"
    assert FAULTS[Fault.DETACHED_PARAMETER].layer == "trainer"
    assert FAULTS[Fault.PROCESSED_LOGPROBS].caught_by == "logprob_agreement"


def test_processed_logprobs_forces_the_temperature_but_keeps_greedy() -> None:
    faults = ServerFaults(Fault.PROCESSED_LOGPROBS)
    assert faults.sampling_temperature(1.0) == 0.6
    assert faults.sampling_temperature(0.0) == 0.0
    assert ServerFaults().sampling_temperature(1.0) == 1.0


def test_wrong_tokenizer_fails_token_roundtrip(model_dir: Path, tmp_path: Path) -> None:
    from gymcheck.checks.tokenizer import check_token_roundtrip
    from gymcheck.loading import load_tokenizer

    own = load_tokenizer(model_dir)
    served = load_tokenizer(serve_with_wrong_tokenizer(model_dir, tmp_path / "served"))
    assert own.encode("Hello") != served.encode("Hello")  # a space the model never saw
    assert check_token_roundtrip(own).status is Status.PASS

    result = check_token_roundtrip(served)
    assert result.status is Status.FAIL
    assert set(result.details["categories"]) == {"whitespace"}
    failure = next(f for f in result.findings if f.code == "roundtrip_failure")
    assert failure.severity == "error" and failure.details["category"] == "whitespace"


def test_detached_parameter_fails_gradient_flow(model_dir: Path) -> None:
    pytest.importorskip("torch")
    from tiny_policy import sample_records

    from gymcheck.checks.gradients import check_gradient_flow
    from gymcheck.training import load_train_model

    healthy = load_train_model(str(model_dir))
    records = sample_records(healthy, healthy.tokenizer, count=2, tokens_per_turn=6)
    assert check_gradient_flow(records, healthy).status is Status.PASS

    result = check_gradient_flow(records, DETACHED_PARAMETER_MODEL)
    assert result.status is Status.FAIL
    (finding,) = result.findings
    assert finding.code == "gradient_missing"
    assert finding.details["no_grad"] == ["model.norm.parametrizations.weight.original"]
    steps = {s.name: s.status for s in result.steps}
    assert steps["parameter_gradients"] is Status.FAIL
    assert steps["loss"] is Status.PASS and steps["logit_gradients"] is Status.PASS
