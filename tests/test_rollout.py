"""The rollout model: trainable turns, first divergence, message_log and training sequence."""

from __future__ import annotations

import json

import pytest
from rollout_builders import make_record, tito_turns

from gymcheck.errors import RolloutFormatError
from gymcheck.rollout import (
    ContinuityError,
    first_divergence,
    to_message_log,
    to_training_sequence,
    trainable_turns,
)


def test_fixture_has_two_trainable_items_of_different_types(fixture_rollout_path):
    record = json.loads(fixture_rollout_path.read_text())
    turns = trainable_turns(record)
    assert [(t.number, t.item_type) for t in turns] == [(1, "function_call"), (2, "reasoning")]
    assert [len(t.prompt_token_ids) for t in turns] == [3088, 3637]
    assert [len(t.generation_token_ids) for t in turns] == [495, 207]
    assert turns[0].output_index == 3


def test_task_fields_are_kept_and_tool_outputs_never_trainable(qwen3_tokenizer):
    record = make_record(tito_turns(qwen3_tokenizer, 3), task={"task_id": "t-7", "level": 2})
    assert record["task_id"] == "t-7"
    turns = trainable_turns(record)
    types = [record["response"]["output"][t.output_index]["type"] for t in turns]
    assert types == ["function_call", "function_call", "message"]


def test_first_divergence():
    assert first_divergence([1, 2, 3], [1, 2, 3, 4]) is None
    assert first_divergence([1, 2, 3], [1, 9, 3, 4]) == 1
    assert first_divergence([1, 2, 3], [1, 2]) == 2
    assert first_divergence([], [5]) is None


def test_message_log_masks_exactly_the_generated_tokens(qwen3_tokenizer):
    turns = tito_turns(qwen3_tokenizer, 3)
    log = to_message_log(make_record(turns))
    assert [m["trainable"] for m in log] == [False, True] * 3
    sequence = to_training_sequence(log)
    last_prompt, last_generation = turns[-1]
    assert sequence.token_ids == last_prompt + last_generation
    generated = sum(len(g) for _, g in turns)
    assert sum(sequence.loss_mask) == generated
    for prompt, generation in turns:
        start = len(prompt)
        assert sequence.loss_mask[start : start + len(generation)] == [1] * len(generation)
        assert sequence.token_ids[start : start + len(generation)] == generation
    assert sequence.generation_logprobs[0] is None
    assert sequence.generation_logprobs[len(turns[0][0])] == -0.25


def test_message_log_refuses_a_broken_episode(fixture_rollout_path):
    record = json.loads(fixture_rollout_path.read_text())
    with pytest.raises(ContinuityError) as caught:
        to_message_log(record)
    assert (caught.value.turn, caught.value.token_index) == (2, 3089)


def test_wrong_shapes_raise_rollout_format_error():
    with pytest.raises(RolloutFormatError, match="no 'response'"):
        trainable_turns({"reward": 1})
    with pytest.raises(RolloutFormatError, match="not a list"):
        trainable_turns({"response": {"output": {}}})
    bad_item = {
        "type": "message",
        "prompt_token_ids": "1 2",
        "generation_token_ids": [1],
        "generation_log_probs": [-1.0],
    }
    with pytest.raises(RolloutFormatError, match="'prompt_token_ids' is str"):
        trainable_turns({"response": {"output": [bad_item]}})
