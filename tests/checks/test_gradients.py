"""``gradient_flow`` on real rollouts sampled from a tiny Qwen2, with each mask bug planted."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tiny_policy import bigram_records, sample_records, tiny_policy_dir

from gymcheck.checks.gradients import check_gradient_flow, gradient_flow_on_sequences
from gymcheck.report import Status
from gymcheck.rollout import TrainingSequence, to_message_log, to_training_sequence
from gymcheck.training import build_samples, load_train_model

HERE = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def policy():
    return load_train_model(str(tiny_policy_dir()))


@pytest.fixture(scope="module")
def records(policy):
    return sample_records(policy, policy.tokenizer, temperature=1.0, count=2, tokens_per_turn=8)


def with_mask(sample, mask):
    sequence = TrainingSequence(
        sample.sequence.token_ids, list(mask), sample.sequence.generation_logprobs
    )
    return dataclasses.replace(sample, sequence=sequence)


def shift(mask, by):
    return [0] * by + mask[:-by] if by > 0 else mask[-by:] + [0] * -by


def codes(result):
    return {(f.code, f.cause) for f in result.findings}


def test_healthy_rollouts_pass_every_step(policy, records):
    result = check_gradient_flow(records, policy)
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert result.id == "gradient_flow" and result.required is False
    assert [s.name for s in result.steps] == [
        "loss_mask",
        "loss",
        "logit_gradients",
        "parameter_gradients",
        "update",
    ]
    assert all(s.status is Status.PASS for s in result.steps)
    details = result.details
    assert details["mask_tokens"] == details["generated_tokens"] == 2 * 2 * 8
    assert details["parameters_with_gradient"] == details["parameters"] == 27
    assert details["advantage"] == "reward - mean reward"
    assert details["update"]["tried"][-1]["objective_change"] > 0


def test_weights_are_restored(policy, records):
    before = {n: p.detach().clone() for n, p in policy.module.named_parameters()}
    check_gradient_flow(records, policy)
    for name, p in policy.module.named_parameters():
        assert p.grad is None
        assert bool((p == before[name]).all()), name


def test_all_zero_mask_fails(policy, records):
    sample = build_samples(records).samples[0]
    result = gradient_flow_on_sequences(
        [with_mask(sample, [0] * len(sample.generated_mask))], policy
    )
    assert result.status is Status.FAIL
    assert ("loss_mask_empty", None) in codes(result)
    assert result.steps[0].name == "loss_mask" and result.steps[0].status is Status.FAIL


@pytest.mark.parametrize("by", [1, -1])
def test_mask_shifted_by_one_fails(policy, records, by):
    sample = build_samples(records).samples[0]
    planted = with_mask(sample, shift(sample.generated_mask, by))
    result = gradient_flow_on_sequences([planted], policy)
    assert result.status is Status.FAIL
    found = {f.code: f for f in result.findings}
    mask = found["loss_mask_misaligned"]
    assert mask.cause == "mask_shifted"
    first_generated = sample.spans[0].start
    assert mask.token_index == (first_generated - 1 if by < 0 else first_generated)
    # The gradient really leaks onto a token that was not generated.
    leak = found["gradient_outside_generation"]
    last_prompt, after_generation = first_generated - 1, sample.spans[0].end
    assert leak.token_index == (last_prompt if by < 0 else after_generation)


def test_prompt_marked_trainable_fails(policy, records):
    sample = build_samples(records[:1]).samples[0]
    message_log = copy.deepcopy(to_message_log(records[0]))
    message_log[2]["trainable"] = True  # the tool-result slice before turn 2
    planted = dataclasses.replace(sample, sequence=to_training_sequence(message_log))
    result = gradient_flow_on_sequences([planted], policy)
    assert result.status is Status.FAIL
    found = {f.code: f for f in result.findings}
    assert found["loss_mask_misaligned"].cause == "mask_covers_prompt"
    tool_slice_start = sample.spans[0].end
    assert found["loss_mask_misaligned"].token_index == tool_slice_start
    assert found["gradient_outside_generation"].token_index == tool_slice_start
    assert "tool" in found["loss_mask_misaligned"].actual


def test_nan_weights_fail(records):
    import torch

    broken = load_train_model(str(tiny_policy_dir()))
    with torch.no_grad():
        broken.module.model.norm.weight[0] = float("nan")
    result = check_gradient_flow(records, broken)
    assert result.status is Status.FAIL
    assert ("loss_not_finite", None) in codes(result)


def test_equal_rewards_ascend_likelihood(policy, records):
    same = copy.deepcopy(records)
    for record in same:
        record["reward"] = 1.0
    result = check_gradient_flow(same, policy, max_rollouts=1)
    assert result.status is Status.PASS
    assert result.details["advantage"].startswith("+1")
    assert all(change > 0 for change in result.details["update"]["loglik_change"])


def test_broken_continuity_trains_each_turn(policy, records):
    broken = copy.deepcopy(records[:1])
    second = broken[0]["response"]["output"][2]
    second["prompt_token_ids"] = second["prompt_token_ids"][1:]
    result = check_gradient_flow(broken, policy)
    assert result.status is Status.PASS
    assert result.details["per_turn_rollouts"] == 1 and result.details["samples"] == 2
    assert "trained separately" in result.details["notes"][-1]


def test_plain_module_factory_and_unused_parameter(tmp_path):
    healthy = f"{HERE / 'tiny_policy.py'}:bigram_factory"
    model = load_train_model(healthy)
    records = bigram_records(model)
    assert check_gradient_flow(records, healthy).status is Status.PASS
    unused = load_train_model(f"{HERE / 'tiny_policy.py'}:bigram_with_unused_parameter")
    result = check_gradient_flow(records, unused)
    assert result.status is Status.FAIL
    finding = next(f for f in result.findings if f.code == "gradient_missing")
    assert "forgotten" in finding.message
    assert finding.details["no_grad"] == ["forgotten.weight", "forgotten.bias"]


def test_no_samples_skip_and_bad_records_noted(policy):
    result = check_gradient_flow([{"response": {"output": []}}, {"nope": 1}], policy)
    assert result.status is Status.SKIP
    assert len(result.details["notes"]) == 2


def test_records_given_as_an_iterator_are_trained_on(policy, records):
    # The rollout pass and the training read the same records: an iterator is read once.
    result = check_gradient_flow(iter(records), policy)
    assert result.status is Status.PASS, result.summary
