"""Every record-level finding code, on records built from real Qwen3 token sequences."""

from __future__ import annotations

import copy
import json
import math

import pytest
from rollout_builders import make_record, tito_turns

from gymcheck.checks.collection import check_rollout_collection
from gymcheck.checks.records import check_record
from gymcheck.render.words import step_text
from gymcheck.report import Status


@pytest.fixture(scope="module")
def clean(qwen3_tokenizer) -> dict:
    return make_record(tito_turns(qwen3_tokenizer, 3))


def codes(findings) -> list[tuple[str, int | None]]:
    return [(f.code, f.turn) for f in findings]


def test_clean_record_has_no_findings(clean, qwen3_tokenizer):
    assert check_record(clean, vocab_size=len(qwen3_tokenizer)) == []


def test_fixture_record_is_clean_at_record_level(fixture_rollout_path, qwen3_tokenizer):
    record = json.loads(fixture_rollout_path.read_text())
    assert check_record(record, vocab_size=len(qwen3_tokenizer)) == []


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([1, 2], "JSON array"),
        ({"reward": 1.0}, "no 'response'"),
        ({"reward": 1.0, "response": {"output": "x"}}, "not a list"),
    ],
)
def test_schema(record, message):
    findings = check_record(record)
    assert findings[-1].code == "schema"
    assert message in findings[-1].message


def test_schema_for_token_fields_of_the_wrong_type(clean):
    record = copy.deepcopy(clean)
    record["response"]["output"][2]["generation_token_ids"] = {"ids": [1]}
    [finding] = check_record(record)
    assert finding.code == "schema"
    assert "'generation_token_ids' is dict" in finding.message


def test_schema_for_a_non_integer_token_id(clean):
    record = copy.deepcopy(clean)
    record["response"]["output"][2]["generation_token_ids"][3] = "17"
    [finding] = check_record(record)
    assert (finding.code, finding.turn) == ("schema", 2)
    assert "generation_token_ids[3] is string" in finding.message


@pytest.mark.parametrize(
    ("reward", "reward_range", "message"),
    [
        (None, (0.0, 1.0), "no 'reward'"),
        ("1.0", (0.0, 1.0), "not a number"),
        (True, (0.0, 1.0), "not a number"),
        (math.nan, (0.0, 1.0), "not finite"),
        (math.inf, (0.0, 1.0), "not finite"),
        (1.5, (0.0, 1.0), "outside [0, 1]"),
        (-2.0, (-1.0, 1.0), "outside [-1, 1]"),
    ],
)
def test_reward_invalid(clean, reward, reward_range, message):
    record = copy.deepcopy(clean)
    if reward is None:
        del record["reward"]
    else:
        record["reward"] = reward
    [finding] = check_record(record, reward_range=reward_range)
    assert finding.code == "reward_invalid"
    assert message in finding.message


def test_reward_range_is_configurable(clean):
    record = dict(clean, reward=5.0)
    assert check_record(record, reward_range=(0.0, 10.0)) == []


def test_no_trainable_output(clean):
    record = copy.deepcopy(clean)
    for item in record["response"]["output"]:
        for key in ("prompt_token_ids", "generation_token_ids", "generation_log_probs"):
            item.pop(key, None)
    assert codes(check_record(record)) == [("no_trainable_output", None)]


def test_empty_generation(clean):
    record = copy.deepcopy(clean)
    last = record["response"]["output"][-1]
    last["generation_token_ids"], last["generation_log_probs"] = [], []
    assert codes(check_record(record)) == [("empty_generation", 3)]


def test_logprobs_length_mismatch(clean):
    record = copy.deepcopy(clean)
    record["response"]["output"][0]["generation_log_probs"].pop()
    [finding] = check_record(record)
    assert (finding.code, finding.turn) == ("logprobs_length_mismatch", 1)
    assert finding.details == {
        "logprobs": len(record["response"]["output"][0]["generation_token_ids"]) - 1,
        "generated": len(record["response"]["output"][0]["generation_token_ids"]),
    }


@pytest.mark.parametrize(
    ("bad", "what"),
    [(None, "null"), (math.nan, "NaN"), (-math.inf, "-inf"), (0.5, "0.5 > 0"), ("x", "string")],
)
def test_logprobs_invalid(clean, bad, what):
    record = copy.deepcopy(clean)
    item = record["response"]["output"][2]
    item["generation_log_probs"][4] = bad
    [finding] = check_record(record)
    assert (finding.code, finding.turn) == ("logprobs_invalid", 2)
    assert f"generation_log_probs[4] = {what}" in finding.message
    assert finding.token_index == len(item["prompt_token_ids"]) + 4


def test_token_id_out_of_range_needs_the_vocabulary(clean, qwen3_tokenizer):
    record = copy.deepcopy(clean)
    vocab = len(qwen3_tokenizer)
    record["response"]["output"][2]["generation_token_ids"][0] = vocab + 5
    assert check_record(record) == []
    [finding] = check_record(record, vocab_size=vocab)
    assert (finding.code, finding.turn) == ("token_id_out_of_range", 2)
    assert finding.details["token_id"] == vocab + 5
    assert finding.token_index == len(record["response"]["output"][2]["prompt_token_ids"])


def test_negative_token_id_is_out_of_range_even_without_vocabulary(clean):
    record = copy.deepcopy(clean)
    record["response"]["output"][0]["prompt_token_ids"][7] = -1
    [finding] = check_record(record)
    assert (finding.code, finding.turn, finding.token_index) == ("token_id_out_of_range", 1, 7)


def test_collection_passes_with_the_guides_lines(clean):
    result = check_rollout_collection([clean])
    assert result.status is Status.PASS
    assert [step_text(result.id, s) for s in result.steps] == [
        "Rollout collected successfully",
        "Reward: 1.0",
        "Trainable outputs: 3",
    ]


def test_collection_fails_on_zero_rollouts():
    result = check_rollout_collection([])
    assert result.status is Status.FAIL
    assert result.summary == "no rollouts: nothing was collected"


def test_collection_findings_carry_rollout_index(clean):
    bad = dict(clean, reward=7.0)
    result = check_rollout_collection([clean, clean, bad])
    assert result.status is Status.FAIL
    assert [(f.code, f.rollout_index) for f in result.findings] == [("reward_invalid", 2)]
    assert result.summary == "1 of 3 rollouts have findings (reward_invalid ×1)"
    assert result.details["rollouts"] == 3
