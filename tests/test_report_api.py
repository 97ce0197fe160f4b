"""The result objects inside a training loop: metrics to log, JSON, a short repr."""

from __future__ import annotations

import json

from gymcheck.report import CheckResult, Finding, Report, Status


def result() -> CheckResult:
    return CheckResult(
        "logprob_agreement",
        Status.FAIL,
        "Trainer and engine log-probs disagree (temperature_mismatch): " + "x" * 200,
        required=False,
        details={
            "n_tokens": 621,
            "token_mult_prob_error": 1.31,
            "converged": True,
            "burst": {"p50_s": 0.4, "codes": [200, 200]},
            "worst_tokens": [{"gen": -0.1}],
            "cause": "temperature_mismatch",
            "nan": float("nan"),
            "pair": (1, 2),
        },
        findings=[Finding("logprob_mismatch", "m" * 500, rollout_index=2, turn=1, token_index=7)],
        duration_s=1.5,
    )


def test_metrics_are_flat_numbers_for_a_logger() -> None:
    assert result().metrics == {
        "passed": 0,
        "findings": 1,
        "duration_s": 1.5,
        "n_tokens": 621,
        "token_mult_prob_error": 1.31,
        "converged": 1,
        "burst.p50_s": 0.4,
    }
    report = Report([result()])
    assert report.metrics["logprob_agreement/token_mult_prob_error"] == 1.31
    assert report.metrics["passed"] == 1  # an optional check's failure does not fail the run


def test_results_serialize_to_json() -> None:
    data = json.loads(result().to_json())
    assert data["details"]["pair"] == [1, 2] and data["details"]["nan"] is None
    assert data["findings"][0]["rollout_index"] == 2
    json.dumps(result().to_dict())
    whole = json.loads(Report([result()]).to_json())
    assert "findings" not in whole["checks"][0] and len(whole["findings"]) == 1


def test_reprs_are_short() -> None:
    assert len(repr(result())) < 140
    assert repr(result().findings[0]) == (
        "Finding('logprob_mismatch', rollout_index=2, turn=1, token_index=7)"
    )
    assert repr(Report([result()])) == "Report(passed=True, checks=1, findings=1)"


def test_every_public_name_has_a_docstring() -> None:
    import inspect

    import gymcheck

    missing = []
    for name in gymcheck.__all__:
        if name == "__version__":
            continue
        obj = getattr(gymcheck, name)
        doc = (obj.__doc__ or "").strip()
        # A dataclass without a docstring gets its signature as __doc__.
        if not doc or (inspect.isclass(obj) and doc.startswith(f"{obj.__name__}(")):
            missing.append(name)
        if inspect.isclass(obj):
            for member, value in vars(obj).items():
                if member.startswith("_") or not (
                    inspect.isfunction(value) or isinstance(value, property)
                ):
                    continue
                if not (value.__doc__ or "").strip():
                    missing.append(f"{name}.{member}")
    assert missing == []
