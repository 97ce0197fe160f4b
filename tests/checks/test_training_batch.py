"""``training_batch``: faithful processors pass; each planted processing bug is named with its
code, position and shift, on real Qwen3 token sequences and the real NeMo Gym fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import batch_processors as bp
import pytest
import rollout_builders as rb

from gymcheck.checks.training_batch import check_training_batch
from gymcheck.report import Status


@pytest.fixture(scope="module")
def episode(qwen3_tokenizer: Any) -> dict[str, Any]:
    """A contiguous three-turn tool-calling episode with distinct engine log-probs."""
    turns = rb.tito_turns(qwen3_tokenizer, 3)
    logprobs = [
        [-0.01 * ((7 * i + k) % 23 + 1) for i in range(len(g))] for k, (_, g) in enumerate(turns)
    ]
    return rb.make_record(turns, logprobs=logprobs, reward=0.75)


@pytest.fixture(scope="module")
def spans(episode: dict[str, Any]) -> list[tuple[int, int]]:
    """Where each generation lies in the episode's sequence."""
    items = [i for i in episode["response"]["output"] if "prompt_token_ids" in i]
    return [
        (len(i["prompt_token_ids"]), len(i["prompt_token_ids"]) + len(i["generation_token_ids"]))
        for i in items
    ]


@pytest.fixture(scope="module")
def gym_fixture(fixture_rollout_path: Path) -> dict[str, Any]:
    return json.loads(fixture_rollout_path.read_text())


def only(result: Any, code: str) -> list[Any]:
    assert result.status is Status.FAIL, result.summary
    assert {f.code for f in result.findings} == {code}, [f.message for f in result.findings]
    return result.findings


@pytest.mark.parametrize("shape", sorted(bp.FAITHFUL))
def test_a_faithful_processor_passes_in_every_shape(
    shape: str, episode: dict, gym_fixture: dict, qwen3_tokenizer: Any
) -> None:
    result = check_training_batch(
        [episode, gym_fixture], processor=bp.FAITHFUL[shape], tokenizer=qwen3_tokenizer
    )
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert result.findings == []
    # The fixture breaks continuity (vLLM re-rendered its tool calls): one sample per turn.
    assert result.details["samples"] == 3
    assert result.details["shapes"] == {shape: 3}
    assert result.details["per_turn_rollouts"] == 1


def test_a_shifted_trl_env_mask_is_one_finding_with_its_shift(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    (finding,) = only(
        check_training_batch([episode], processor=bp.trl_mask_shifted, tokenizer=qwen3_tokenizer),
        "batch_mask_shifted",
    )
    assert (finding.details["shift"], finding.token_index, finding.turn) == (1, spans[0][0], 1)
    assert finding.details["shape"] == "trl"
    assert "env_mask" in finding.fix


def test_hand_shifted_hf_labels_are_a_shift_of_minus_one(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    (finding,) = only(
        check_training_batch([episode], processor=bp.hf_labels_shifted, tokenizer=qwen3_tokenizer),
        "batch_mask_shifted",
    )
    assert (finding.details["shift"], finding.token_index) == (-1, spans[0][0] - 1)
    assert "unshifted" in finding.fix


def test_trained_tool_outputs_are_named_per_turn(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    findings = only(
        check_training_batch(
            [episode], processor=bp.nemo_rl_tool_trained, tokenizer=qwen3_tokenizer
        ),
        "batch_mask_tool_output",
    )
    assert [(f.turn, f.token_index) for f in findings] == [(1, spans[0][1]), (2, spans[1][1])]
    assert [f.details["tokens"] for f in findings] == [
        spans[1][0] - spans[0][1],
        spans[2][0] - spans[1][1],
    ]
    assert "tool_output" not in findings[0].fix and "assistant" in findings[0].fix


def test_a_trained_first_prompt_is_batch_mask_prompt(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    (finding,) = only(
        check_training_batch(
            [episode], processor=bp.flat_prompt_trained, tokenizer=qwen3_tokenizer
        ),
        "batch_mask_prompt",
    )
    assert (finding.token_index, finding.details["tokens"]) == (0, spans[0][0])


def test_an_eos_left_out_of_the_mask_is_named_for_each_turn(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    findings = only(
        check_training_batch([episode], processor=bp.verl_eos_dropped, tokenizer=qwen3_tokenizer),
        "batch_mask_missing_generation",
    )
    assert [f.token_index for f in findings] == [end - 1 for _, end in spans]
    assert all("<|im_end|>" in f.message for f in findings)
    assert "response_mask" in findings[0].fix


def test_logprobs_one_position_late_are_batch_logprobs_shifted(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    (finding,) = only(
        check_training_batch(
            [episode], processor=bp.trl_logprobs_shifted, tokenizer=qwen3_tokenizer
        ),
        "batch_logprobs_shifted",
    )
    assert (finding.details["shift"], finding.token_index) == (1, spans[0][0])


def test_zero_filled_logprobs_are_a_placeholder(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    (finding,) = only(
        check_training_batch([episode], processor=bp.verl_logprobs_zero, tokenizer=qwen3_tokenizer),
        "batch_logprobs_placeholder",
    )
    generated = sum(end - start for start, end in spans)
    assert (finding.token_index, finding.details["value"]) == (spans[0][0], 0.0)
    assert finding.details["tokens"] == generated


def test_a_max_length_cut_says_how_many_generated_tokens_it_lost(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    (finding,) = only(
        check_training_batch([episode], processor=bp.flat_truncated, tokenizer=qwen3_tokenizer),
        "batch_truncated",
    )
    assert (finding.token_index, finding.turn) == (spans[2][1] - 20, 3)
    assert finding.details["generated_tokens_cut"] == 20


def test_the_reward_of_another_rollout(episode: dict, qwen3_tokenizer: Any) -> None:
    (finding,) = only(
        check_training_batch(
            [episode], processor=bp.trl_reward_of_another, tokenizer=qwen3_tokenizer
        ),
        "batch_reward_mismatch",
    )
    assert (finding.details["sample_reward"], finding.details["rollout_reward"]) == (0.0, 0.75)


def test_padding_left_in_is_extra_tokens_after_the_sequence(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    (finding,) = only(
        check_training_batch([episode], processor=bp.flat_padding_kept, tokenizer=qwen3_tokenizer),
        "batch_tokens_mismatch",
    )
    assert (finding.token_index, finding.details["extra_tokens"]) == (spans[2][1], 2)


def test_logprobs_that_no_shift_explains_are_a_mismatch(
    episode: dict, spans: list, qwen3_tokenizer: Any
) -> None:
    (finding,) = only(
        check_training_batch(
            [episode], processor=bp.nemo_rl_logprobs_of_another, tokenizer=qwen3_tokenizer
        ),
        "batch_logprobs_mismatch",
    )
    assert finding.token_index == spans[0][0]
    assert finding.details["tokens"] == sum(end - start for start, end in spans)


def test_a_failed_rollouts_placeholder_that_trains(episode: dict, qwen3_tokenizer: Any) -> None:
    failed = {"responses_create_params": {"input": []}, "response": {"output": []}, "reward": 0.0}
    (finding,) = only(
        check_training_batch(
            [episode, failed], processor=bp.placeholder_for_failed, tokenizer=qwen3_tokenizer
        ),
        "batch_failed_rollout_trained",
    )
    assert (finding.rollout_index, finding.token_index, finding.details["trained_tokens"]) == (
        1,
        0,
        4,
    )


def test_a_re_tokenized_sequence_gets_the_continuity_cause(qwen3_tokenizer: Any) -> None:
    im_end = qwen3_tokenizer.convert_tokens_to_ids("<|im_end|>")
    split, _ = rb.non_canonical_split(qwen3_tokenizer)
    prompt = rb.render(qwen3_tokenizer, rb.first_messages())
    said = rb.encode(qwen3_tokenizer, "<think>\nThey said")
    first = [*said, *split, *rb.encode(qwen3_tokenizer, " jeans.\n</think>\n\nOk."), im_end]
    record = rb.make_record([(prompt, first)])
    (finding,) = only(
        check_training_batch([record], processor=bp.flat_retokenized, tokenizer=qwen3_tokenizer),
        "batch_tokens_mismatch",
    )
    assert (finding.cause, finding.token_index) == ("retokenized", len(prompt) + len(said))


@pytest.mark.parametrize(
    ("processor", "words"),
    [
        (bp.raises, "the processor raised KeyError"),
        (bp.returns_none, "returned None"),
        (bp.unknown_shape, "['tokens', 'weights']"),
    ],
)
def test_a_broken_processor_is_batch_format_and_the_other_rollouts_are_checked(
    processor: Any, words: str, episode: dict, qwen3_tokenizer: Any
) -> None:
    def sometimes_broken(record: dict, tokenizer: Any) -> Any:
        return processor(record, tokenizer) if record.get("broken") else bp.trl(record, tokenizer)

    broken = {**episode, "broken": True}
    result = check_training_batch(
        [episode, broken, episode], processor=sometimes_broken, tokenizer=qwen3_tokenizer
    )
    (finding,) = only(result, "batch_format")
    assert finding.rollout_index == 1
    assert words in finding.message
    assert result.details["samples"] == 2


def test_processed_samples_from_a_file_in_rollout_order(
    episode: dict, tmp_path: Path, qwen3_tokenizer: Any
) -> None:
    path = tmp_path / "processed.jsonl"
    good, bad = bp.trl(episode, qwen3_tokenizer), bp.trl_mask_shifted(episode, qwen3_tokenizer)
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    result = check_training_batch(
        [episode, episode, episode], processed=str(path), tokenizer=qwen3_tokenizer
    )
    assert result.details["processing"] == f"processed {path}"
    assert [(f.rollout_index, f.code) for f in result.findings] == [
        (1, "batch_mask_shifted"),
        (2, "batch_format"),
    ]


def test_no_processing_is_a_skip(episode: dict) -> None:
    assert check_training_batch([episode]).status is Status.SKIP
