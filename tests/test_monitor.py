"""``gymcheck.monitor``: one call per training step, findings plus a flat dict of numbers."""

from __future__ import annotations

import math
from typing import Any

import batch_processors as bp
import pytest
import rollout_builders as rb
import torch

from gymcheck.monitor import check_batch, logprob_metrics


@pytest.fixture(scope="module")
def rollouts(qwen3_tokenizer: Any) -> list[dict[str, Any]]:
    contiguous = rb.tito_turns(qwen3_tokenizer, 2)
    logprobs = [[-0.05 * (i % 9 + 1) for i in range(len(g))] for _, g in contiguous]
    broken = rb.plant_rerendered(qwen3_tokenizer)
    return [
        rb.make_record(contiguous, logprobs=logprobs, reward=1.0),
        rb.make_record(broken, reward=0.0),
    ]


def test_a_clean_batch_has_no_finding_and_only_numbers(
    rollouts: list, qwen3_tokenizer: Any
) -> None:
    samples = [bp.trl(r, qwen3_tokenizer) for r in rollouts]
    report = check_batch(rollouts, samples, tokenizer=qwen3_tokenizer)
    assert report.findings == [] and report.passed
    assert all(type(v) is float and math.isfinite(v) for v in report.metrics.values())
    m = report.metrics
    assert (m["gymcheck/rollouts"], m["gymcheck/samples"]) == (2.0, 3.0)
    assert m["gymcheck/continuity_break_rate"] == 0.5
    assert (m["gymcheck/mask_errors"], m["gymcheck/reward_mismatches"]) == (0.0, 0.0)


def test_mask_and_reward_bugs_are_counted(rollouts: list, qwen3_tokenizer: Any) -> None:
    samples = [
        bp.trl_mask_shifted(rollouts[0], qwen3_tokenizer),
        bp.trl_reward_of_another(rollouts[1], qwen3_tokenizer),
    ]
    report = check_batch(rollouts, samples, prefix="")
    assert not report.passed
    assert report.metrics["mask_errors"] == 1.0
    assert report.metrics["findings/batch_mask_shifted"] == 1.0
    assert report.metrics["reward_mismatches"] == 2.0  # one per turn sample of rollout 1
    assert report.metrics["mask_error_rate"] == pytest.approx(1 / 3)


def test_the_trainers_logprobs_give_the_agreement_metrics(
    rollouts: list, qwen3_tokenizer: Any
) -> None:
    record = rollouts[0]
    sample = bp.trl(record, qwen3_tokenizer)
    engine = torch.tensor(sample["logprobs"])
    trainer = engine - 0.01  # a uniform 0.01 nat gap on every completion token
    report = check_batch([record], [sample], trainer_logprobs=[trainer], prefix="")
    generated = sum(sample["env_mask"])
    assert report.metrics["logprob_tokens"] == generated
    assert report.metrics["max_abs_logprob_diff"] == pytest.approx(0.01, abs=1e-6)
    assert report.metrics["token_mult_prob_error"] == pytest.approx(math.exp(0.01), abs=1e-6)


def test_logprob_metrics_from_tensors_with_a_mask() -> None:
    engine = torch.tensor([[-1.0, -0.5, 0.0], [-0.2, -0.2, -0.2]])
    trainer = torch.tensor([[-1.0, -0.7, -9.0], [-0.2, -0.1, -0.2]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    metrics = logprob_metrics(engine, trainer, mask)
    assert metrics["n_tokens"] == 5
    assert metrics["max_abs_diff"] == pytest.approx(0.2)
    assert metrics["token_mult_prob_error"] == pytest.approx(
        (3 + math.exp(0.2) + math.exp(0.1)) / 5
    )
    with pytest.raises(ValueError, match="same number"):
        logprob_metrics([0.0], [0.0, 1.0])
