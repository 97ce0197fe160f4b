"""``gradient_flow`` and ``logprob_agreement`` on the user's processed samples (tiny Qwen2)."""

from __future__ import annotations

import batch_processors as bp
import pytest

pytest.importorskip("torch")

from tiny_policy import sample_records, tiny_policy_dir

from gymcheck.checks.gradients import gradient_flow_on_sequences
from gymcheck.checks.logprobs import check_logprob_agreement
from gymcheck.checks.training_batch import process_batch
from gymcheck.checks.training_batch.samples import agreement_samples, gradient_samples
from gymcheck.processing import load_processing
from gymcheck.report import Status
from gymcheck.training import load_train_model


@pytest.fixture(scope="module")
def policy():
    return load_train_model(str(tiny_policy_dir()))


@pytest.fixture(scope="module")
def records(policy):
    return sample_records(policy, policy.tokenizer, temperature=1.0, count=2, tokens_per_turn=8)


def batches(records, policy, processor):
    processing = load_processing(processor=processor)
    return process_batch(records, processing, tokenizer=policy.tokenizer)


def test_a_faithful_processors_samples_train_and_agree(records, policy) -> None:
    processed = batches(records, policy, bp.trl)
    samples, notes = gradient_samples(processed)
    assert notes == [] and len(samples) == 2
    assert gradient_flow_on_sequences(samples, policy).status is Status.PASS
    agreement = check_logprob_agreement(
        records, policy, tokenizer=policy.tokenizer, samples=agreement_samples(processed)
    )
    assert agreement.status is Status.PASS, agreement.summary


def test_a_shifted_mask_trains_the_wrong_tokens_and_scores_the_wrong_positions(
    records, policy
) -> None:
    processed = batches(records, policy, bp.trl_mask_shifted)
    samples, _ = gradient_samples(processed)
    result = gradient_flow_on_sequences(samples, policy)
    assert result.status is Status.FAIL
    by_code = {f.code: f for f in reversed(result.findings) if f.rollout_index == 0}
    assert by_code["loss_mask_misaligned"].cause == "mask_shifted"
    first_prompt = len(records[0]["response"]["output"][0]["prompt_token_ids"])
    generated = len(records[0]["response"]["output"][0]["generation_token_ids"])
    # The mask trains the token after the first generation: the gradient lands there.
    assert by_code["gradient_outside_generation"].token_index == first_prompt + generated
    agreement = check_logprob_agreement(
        records, policy, tokenizer=policy.tokenizer, samples=agreement_samples(processed)
    )
    assert agreement.status is Status.FAIL
