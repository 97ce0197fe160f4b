"""Token continuity and the diagnosis of each cause, on real Qwen3 token sequences."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_builders import (
    encode,
    make_record,
    non_canonical_split,
    plant_history_truncated,
    plant_reasoning_stripped,
    plant_rerendered,
    plant_retokenized,
    plant_system_edited,
    plant_whitespace_dropped,
    tito_turns,
)

from gymcheck.checks.continuity import (
    canonical_text,
    check_token_continuity,
    diagnose_continuity,
    split_reasoning,
)
from gymcheck.render.words import step_text
from gymcheck.report import Status


def breaks(turns, tokenizer):
    return [
        (f.cause, f.turn, f.token_index)
        for f in diagnose_continuity(make_record(turns), tokenizer=tokenizer)
    ]


def test_token_in_token_out_episode_is_clean(qwen3_tokenizer):
    assert breaks(tito_turns(qwen3_tokenizer, 4), qwen3_tokenizer) == []


def test_real_fixture_is_reasoning_stripped_at_turn_2_token_3089(
    fixture_rollout_path, qwen3_tokenizer
):
    record = json.loads(fixture_rollout_path.read_text())
    [finding] = diagnose_continuity(record, tokenizer=qwen3_tokenizer)
    assert (finding.code, finding.cause, finding.turn, finding.token_index) == (
        "continuity_break",
        "reasoning_stripped",
        2,
        3089,
    )
    assert "<think>\nOkay, let's see." in finding.expected
    assert "<think>\n\n</think>\n\n<tool_call>" in finding.actual
    assert "required_prefix_token_ids" in finding.fix
    assert "token 3089" in finding.message and "reasoning" in finding.message


def test_retokenized(qwen3_tokenizer):
    turns = plant_retokenized(qwen3_tokenizer)
    _split, canonical = non_canonical_split(qwen3_tokenizer)
    index = turns[1][0].index(canonical[0])  # where the merged id sits in the new prompt
    assert breaks(turns, qwen3_tokenizer) == [("retokenized", 2, index)]
    [finding] = diagnose_continuity(make_record(turns), tokenizer=qwen3_tokenizer)
    assert "re-tokenized" in finding.message
    assert finding.details["expected_ids"] != finding.details["actual_ids"]
    assert_names_both_ways_gym_keeps_tokens(finding.fix)


def assert_names_both_ways_gym_keeps_tokens(fix: str | None) -> None:
    """A splicing server behind vllm_model_for_training, and prefix supply."""
    assert fix is not None
    assert "vllm_model_for_training" in fix and "splices" in fix
    assert "vllm_model_supply_prefix" in fix and "required_prefix_token_ids" in fix


def test_reasoning_stripped_by_the_template(qwen3_tokenizer):
    turns = plant_reasoning_stripped(qwen3_tokenizer)
    first_prompt = turns[0][0]
    # The template drops the whole <think> block: the break is the generation's first token.
    assert breaks(turns, qwen3_tokenizer) == [("reasoning_stripped", 2, len(first_prompt))]


def test_rerendered_tool_call(qwen3_tokenizer):
    turns = plant_rerendered(qwen3_tokenizer)
    [finding] = diagnose_continuity(make_record(turns), tokenizer=qwen3_tokenizer)
    assert (finding.cause, finding.turn) == ("rerendered", 2)
    assert '{\n  "city"\n  :  "nyc"  }' in finding.expected
    assert '{"city": "nyc"}' in finding.actual
    assert len(turns[0][0]) < finding.token_index < len(turns[0][0]) + len(turns[0][1])
    assert_names_both_ways_gym_keeps_tokens(finding.fix)


def test_history_truncated(qwen3_tokenizer):
    turns = plant_history_truncated(qwen3_tokenizer)
    [(cause, turn, index)] = breaks(turns, qwen3_tokenizer)
    assert (cause, turn) == ("history_truncated", 3)
    assert len(turns[0][0]) <= index < len(turns[0][0]) + len(turns[0][1])


def test_history_edited_system_prompt(qwen3_tokenizer):
    turns = plant_system_edited(qwen3_tokenizer)
    [(cause, turn, index)] = breaks(turns, qwen3_tokenizer)
    assert (cause, turn) == ("history_edited", 2)
    assert index < 20  # inside the system message


def test_history_edited_missing_template_whitespace(qwen3_tokenizer):
    turns = plant_whitespace_dropped(qwen3_tokenizer)
    after_first = len(turns[0][0]) + len(turns[0][1])
    assert breaks(turns, qwen3_tokenizer) == [("history_edited", 3, after_first)]


def test_unknown_when_the_generation_is_replaced(qwen3_tokenizer):
    turns = tito_turns(qwen3_tokenizer, 2)
    first_prompt, first = turns[0]
    edited = first_prompt + encode(qwen3_tokenizer, "I will not call any tool.") + first[-1:]
    second_prompt = edited + turns[1][0][len(first_prompt) + len(first) :]
    assert breaks([turns[0], (second_prompt, turns[1][1])], qwen3_tokenizer) == [
        ("unknown", 2, len(first_prompt))
    ]


def test_without_tokenizer_cause_is_unknown_with_ids(fixture_rollout_path):
    record = json.loads(fixture_rollout_path.read_text())
    [finding] = diagnose_continuity(record)
    assert (finding.cause, finding.turn, finding.token_index) == ("unknown", 2, 3089)
    assert finding.expected.startswith("ids[3081:3113] = [")
    assert "151667, 198, 32313" in finding.expected
    assert "151667, 271, 151668" in finding.actual


def test_check_token_continuity_summary_and_details(fixture_rollout_path, qwen3_tokenizer):
    broken = json.loads(fixture_rollout_path.read_text())
    clean = make_record(tito_turns(qwen3_tokenizer, 3))
    result = check_token_continuity([clean, broken, clean, clean], tokenizer=qwen3_tokenizer)
    assert result.id == "token_continuity" and result.required
    assert result.status is Status.FAIL
    assert result.summary == "1 of 4 rollouts break continuity"
    assert result.details["causes"] == {"reasoning_stripped": 1}
    assert result.details["turns"] == 11
    assert [f.rollout_index for f in result.findings] == [1]


def test_check_token_continuity_passes_with_the_guides_line(qwen3_tokenizer):
    result = check_token_continuity([make_record(tito_turns(qwen3_tokenizer, 2))])
    assert result.status is Status.PASS
    assert [step_text(result.id, s) for s in result.steps] == [
        "Token continuity validated across 2 turns"
    ]


def test_canonical_text_and_reasoning_split():
    assert canonical_text('{\n  "city"\n  :  "nyc"  } x') == canonical_text('{"city": "nyc"}x')
    assert canonical_text('{"a": " b "}') != canonical_text('{"a": "b"}')
    assert split_reasoning("<think>\nR\n</think>\n\nA") == ("\nR\n", "\n\nA", "</think>")
    assert split_reasoning("R</think>A") == ("R", "A", "</think>")
    assert split_reasoning("plain") == ("", "plain", None)
    # A marker inside a JSON string (a sampled tool-call argument) delimits nothing.
    call = '<tool_call>{"name": "f", "arguments": {"city": "a</think>b"}}</tool_call>'
    assert split_reasoning(call) == ("", call, None)
    assert split_reasoning('<think>{"x": 1}</think>' + call) == ('{"x": 1}', call, "</think>")


def test_a_reasoning_marker_inside_a_rerendered_tool_call_is_not_reasoning(qwen3_tokenizer):
    """Seen against stock vLLM: a sampled city name held '</think>'; the call was re-rendered."""
    city = "kestrel</think></think><tool_call><think> snowy"
    im_end = qwen3_tokenizer.convert_tokens_to_ids("<|im_end|>")
    turns = tito_turns(qwen3_tokenizer, 2)
    (prompt, _), (_, final) = turns
    odd = '{"name": "get_weather", "arguments": {   "city": ' + json.dumps(city) + "}}"
    generated = [*encode(qwen3_tokenizer, f"<tool_call>\n{odd}\n</tool_call>"), im_end]
    call = {"name": "get_weather", "arguments": {"city": city}}
    rerendered = (
        f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call><|im_end|>\n"
        "<|im_start|>user\n<tool_response>\nsnow\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    next_prompt = prompt + encode(qwen3_tokenizer, rerendered)
    [(cause, turn, _)] = breaks([(prompt, generated), (next_prompt, final)], qwen3_tokenizer)
    assert (cause, turn) == ("rerendered", 2)


episodes = st.lists(
    st.tuples(
        st.lists(st.integers(0, 151_000), max_size=30),
        st.lists(st.integers(0, 151_000), min_size=1, max_size=30),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(first_prompt=st.lists(st.integers(0, 151_000), max_size=40), steps=episodes)
def test_a_contiguous_episode_never_breaks(first_prompt, steps, qwen3_tokenizer):
    turns, prompt = [], first_prompt
    for appended, generated in steps:
        prompt = prompt + appended
        turns.append((prompt, generated))
        prompt = prompt + generated
    record = make_record(turns)
    assert diagnose_continuity(record, tokenizer=qwen3_tokenizer) == []
    assert check_token_continuity([record]).status is Status.PASS


@pytest.mark.parametrize("record", [{}, {"response": {"output": 3}}, [1]])
def test_malformed_records_give_no_continuity_finding(record):
    assert diagnose_continuity(record) == []


@settings(max_examples=80, deadline=None)
@given(
    steps=episodes,
    edit=st.tuples(st.integers(0, 5), st.integers(0, 200), st.integers(0, 151_000)),
    spaced=st.booleans(),
)
def test_the_json_fast_path_agrees_with_comparing_lists(steps, edit, spaced):
    import orjson

    from gymcheck.checks.continuity import find_breaks
    from gymcheck.rollout import trainable_turns

    turns, prompt = [], []
    for appended, generated in steps:
        prompt = prompt + appended
        turns.append((list(prompt), generated))
        prompt = prompt + generated
    k, position, value = edit
    target = turns[k % len(turns)][0]
    if target:
        target[position % len(target)] = value  # maybe a break, maybe the same id
    record = make_record(turns)
    raw = json.dumps(record).encode() if spaced else orjson.dumps(record)
    parsed = trainable_turns(orjson.loads(raw))
    assert find_breaks(parsed, raw) == find_breaks(parsed)
