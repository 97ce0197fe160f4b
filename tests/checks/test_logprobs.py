"""``logprob_agreement`` on real rollouts sampled from a tiny Qwen2, and every planted mismatch."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tiny_policy import (
    bigram_records,
    sample_record,
    sample_records,
    tiny_policy_dir,
)

from gymcheck.checks.logprobs import (
    agreement_metrics,
    check_logprob_agreement,
    measure_logprob_agreement,
)
from gymcheck.errors import ModelLoadError
from gymcheck.report import Status
from gymcheck.training import load_train_model, recompute_logprobs

HERE = Path(__file__).resolve().parent.parent
SAMPLED_AT = 0.7


@pytest.fixture(scope="module")
def policy():
    return load_train_model(str(tiny_policy_dir()))


@pytest.fixture(scope="module")
def records(policy):
    return sample_records(policy, policy.tokenizer, temperature=SAMPLED_AT, count=3)


def roll_logprobs(records):
    rolled = copy.deepcopy(records)
    for record in rolled:
        for item in record["response"]["output"]:
            if "generation_log_probs" in item:
                lp = item["generation_log_probs"]
                item["generation_log_probs"] = lp[-1:] + lp[:-1]
    return rolled


def test_same_model_same_temperature_agrees(policy, records):
    result = check_logprob_agreement(records, policy, temperature=SAMPLED_AT)
    assert result.status is Status.PASS, result.summary
    assert result.id == "logprob_agreement" and result.required is False
    details = result.details
    assert details["n_tokens"] == 3 * 2 * 12
    assert details["gen_kl_error"] < 1e-9
    assert details["token_mult_prob_error"] == pytest.approx(1.0, abs=1e-5)
    assert details["max_abs_diff"] < 1e-4
    worst = details["worst_tokens"][0]
    assert set(worst) == {
        "rollout_index",
        "turn",
        "token_index",
        "token_id",
        "text",
        "gen",
        "train",
    }
    assert worst["text"] == policy.tokenizer.decode([worst["token_id"]])
    assert not result.findings


def test_recompute_matches_the_engine_token_by_token(policy, records):
    item = records[0]["response"]["output"][2]
    sequence = item["prompt_token_ids"] + item["generation_token_ids"]
    recomputed = recompute_logprobs(policy, sequence, temperature=SAMPLED_AT)
    assert recomputed[0] is None
    tail = recomputed[len(item["prompt_token_ids"]) :]
    assert tail == pytest.approx(item["generation_log_probs"], abs=1e-4)


def test_wrong_temperature_fails_and_names_it(policy, records):
    result = check_logprob_agreement(records, policy, temperature=1.0)
    assert result.status is Status.FAIL
    finding = result.findings[0]
    assert finding.code == "logprob_mismatch"
    assert finding.cause == "temperature_mismatch"
    assert result.details["diagnosis"]["fitted_temperature"] == pytest.approx(SAMPLED_AT, rel=0.03)
    assert "0.7" in finding.message and "temperature" in finding.fix


def test_engine_raw_logprobs_under_temperature_are_named(policy):
    # vLLM's default: sampled at T, but the reported log-probs are of the raw logits.
    records = [
        sample_record(policy, policy.tokenizer, "Hi?", temperature=SAMPLED_AT, seed=k, report="raw")
        for k in range(2)
    ]
    result = check_logprob_agreement(records, policy, temperature=SAMPLED_AT)
    assert result.status is Status.FAIL
    assert result.findings[0].cause == "temperature_mismatch"
    assert "before temperature" in result.findings[0].message
    assert "processed_logprobs" in result.findings[0].fix
    # Scored the way the engine reported them, they agree.
    assert check_logprob_agreement(records, policy, temperature=1.0).status is Status.PASS


def test_perturbed_weights_fail_as_wrong_checkpoint(policy, records):
    import torch

    stale = load_train_model(str(tiny_policy_dir()))
    torch.manual_seed(3)
    with torch.no_grad():
        for p in stale.module.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    result = check_logprob_agreement(records, stale, temperature=SAMPLED_AT)
    assert result.status is Status.FAIL
    assert result.findings[0].cause == "wrong_checkpoint"
    assert result.details["gen_kl_error"] > 1e-2
    # Tokens sampled from other weights lean the engine's way too, but not all of them as a
    # grammar's masking does.
    assert result.details["diagnosis"]["constrained"]["engine_higher_share"] < 0.99


def test_logprobs_shifted_by_one_are_detected(policy, records):
    result = check_logprob_agreement(roll_logprobs(records), policy, temperature=SAMPLED_AT)
    assert result.status is Status.FAIL
    assert result.findings[0].cause == "logprobs_shifted"
    assert result.details["diagnosis"]["shift_+1"]["gen_kl_error"] < 1e-9
    assert "previous token" in result.findings[0].message


def test_top_k_processed_logprobs_are_named(policy):
    records = [
        sample_record(policy, policy.tokenizer, "Hi?", temperature=1.0, seed=k, top_k=4)
        for k in range(3)
    ]
    result = check_logprob_agreement(records, policy, temperature=1.0)
    assert result.status is Status.FAIL
    assert result.findings[0].cause == "processed_logprobs"
    assert result.details["mean_diff"] > 0


def test_grammar_constrained_tokens_are_named(policy):
    """Structured outputs mask the logits at some steps (here every third token may only be one
    of a few JSON punctuation ids); the engine reports the masked distribution's log-probs."""
    punctuation = sorted({i for text in ('{"', '":', "}") for i in policy.tokenizer.encode(text)})

    def grammar(step: int) -> list[int] | None:
        return punctuation if step % 3 == 0 else None

    records = [
        sample_record(policy, policy.tokenizer, "Hi?", temperature=1.0, seed=k, grammar=grammar)
        for k in range(3)
    ]
    result = check_logprob_agreement(records, policy, temperature=1.0)
    assert result.status is Status.FAIL
    assert result.findings[0].cause == "constrained_decoding"
    evidence = result.details["diagnosis"]["constrained"]
    assert evidence["engine_higher_share"] == 1.0
    assert evidence["agreeing_share"] >= 0.6


def test_broken_continuity_scores_each_turn(policy, records):
    broken = copy.deepcopy(records[:1])
    second = broken[0]["response"]["output"][2]
    second["prompt_token_ids"] = second["prompt_token_ids"][1:]  # history edited
    gen = second["generation_token_ids"]
    scored = recompute_logprobs(policy, second["prompt_token_ids"] + gen, temperature=SAMPLED_AT)
    second["generation_log_probs"] = scored[-len(gen) :]  # engine saw the edited prompt
    result = check_logprob_agreement(broken, policy, temperature=SAMPLED_AT)
    assert result.status is Status.PASS, result.summary
    assert result.details["per_turn_rollouts"] == 1
    assert "scored separately" in result.details["notes"][0]


def test_thresholds_are_configurable(policy, records):
    loose = check_logprob_agreement(
        records, policy, temperature=1.0, max_mult_prob_error=10, max_kl=1
    )
    assert loose.status is Status.PASS


def test_progress_counts_rollouts_and_max_rollouts_limits(policy, records):
    seen = []
    agreement = measure_logprob_agreement(
        records,
        policy,
        temperature=SAMPLED_AT,
        max_rollouts=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, len(records)), (2, len(records))] and agreement.rollouts == 2
    assert agreement.n_tokens == 2 * 2 * 12


def test_missing_logprobs_skip(policy, records):
    bare = copy.deepcopy(records)
    for record in bare:
        for item in record["response"]["output"]:
            if "generation_log_probs" in item:
                item["generation_log_probs"] = [None] * len(item["generation_token_ids"])
    result = check_logprob_agreement(bare, policy)
    assert result.status is Status.SKIP
    assert "generation_log_probs" in result.summary


def test_plain_module_factory(tmp_path):
    spec = f"{HERE / 'tiny_policy.py'}:bigram_factory"
    model = load_train_model(spec)
    assert model.tokenizer is None and not model.is_hf
    records = bigram_records(model, temperature=1.0)
    assert check_logprob_agreement(records, spec).status is Status.PASS
    result = check_logprob_agreement(records, model, temperature=0.5)
    assert result.findings[0].cause == "temperature_mismatch"
    assert result.details["worst_tokens"][0]["text"].startswith("<")


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("/no/such/dir-or:factory", "no such file"),
        ("json:no_such_factory", "no callable"),
        ("no_such_module_xyz:f", "cannot import"),
        ("json:dumps", "dumps() failed"),
        (__file__, "is a file"),
    ],
)
def test_bad_model_is_one_line_error(spec, needle):
    if spec.startswith("/no/"):
        spec = "/no/such/file.py:factory"
    with pytest.raises(ModelLoadError) as info:
        load_train_model(spec)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_bad_dtype_and_model_string_skip(records):
    with pytest.raises(ModelLoadError, match="dtype"):
        load_train_model(str(tiny_policy_dir()), dtype="int8")
    result = check_logprob_agreement(records, "/nonexistent/model/dir")
    assert result.status is Status.SKIP and "no training model" in result.summary


def test_metrics_match_their_definitions():
    metrics = agreement_metrics([-1.0, -2.0], [-1.5, -2.0])
    import math

    assert metrics["token_mult_prob_error"] == pytest.approx((math.exp(0.5) + 1) / 2)
    assert metrics["gen_kl_error"] == pytest.approx((math.exp(-0.5) - 1 + 0.5) / 2)
    assert metrics["max_abs_diff"] == 0.5


def test_both_checks_skip_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from gymcheck.checks.logprobs import check_logprob_agreement\n"
        "from gymcheck.checks.gradients import check_gradient_flow\n"
        "a = check_logprob_agreement([], 'x'); b = check_gradient_flow([], 'x')\n"
        "print(a.status.value, b.status.value, a.summary)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.startswith("skip skip torch is not installed")


def test_logprobs_length_mismatch_is_skipped_not_misaligned(policy, records):
    bad = copy.deepcopy(records)
    bad[0]["response"]["output"][0]["generation_log_probs"].pop()
    result = check_logprob_agreement(bad, policy, temperature=SAMPLED_AT)
    assert result.status is Status.PASS
    assert result.details["rollouts"] == 2
    assert "12 token_ids but 11 generation_logprobs" in result.details["skipped"][0]


def test_bf16_engine_vs_fp32_trainer_is_named_dtype(policy):
    engine = load_train_model(str(tiny_policy_dir()), dtype="bfloat16")
    records = sample_records(engine, engine.tokenizer, temperature=1.0, count=3)
    # bf16 noise sits under the default limits (as NeMo RL intends) ...
    assert check_logprob_agreement(records, policy).status is Status.PASS
    # ... and a strict limit shows it, named for what it is.
    strict = check_logprob_agreement(records, policy, max_kl=1e-5)
    assert strict.status is Status.FAIL
    assert strict.findings[0].cause == "dtype_mismatch"
    assert "float32" in strict.findings[0].message


def test_records_given_as_an_iterator_are_scored(policy, records):
    # The rollout pass and the scoring read the same records: an iterator is read once.
    result = check_logprob_agreement(iter(records), policy, temperature=SAMPLED_AT)
    assert result.status is Status.PASS, result.summary
