"""Each sample shape normalized into one Sample: lists, tensors, numpy, batch dim 1, padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gymcheck.processing import BatchFormatError, detect, normalize

IDS = [5, 6, 7, 8, 9]
MASK = [0, 0, 1, 1, 1]
LPS = [None, None, -0.5, -0.25, -0.125]


def test_each_shape_is_recognized_by_its_keys() -> None:
    assert detect({"message_log": []}) == "nemo-rl"
    assert detect({"prompt_ids": [], "completion_ids": [], "env_mask": []}) == "trl"
    assert detect({"prompt_ids": [], "response_ids": [], "response_mask": []}) == "verl"
    assert detect({"input_ids": [], "labels": []}) == "hf"
    assert detect({"input_ids": [], "action_mask": []}) == "flat"
    assert detect({"tokens": []}) is None


@pytest.mark.parametrize(
    "output",
    [
        {
            "message_log": [
                {"role": "user", "token_ids": torch.tensor(IDS[:2])},
                {
                    "role": "assistant",
                    "token_ids": torch.tensor(IDS[2:]),
                    "generation_logprobs": torch.tensor(LPS[2:]),
                },
            ]
        },
        {
            "prompt_ids": IDS[:2],
            "completion_ids": IDS[2:],
            "env_mask": [1, 1, 1],
            "logprobs": [[-0.5], [-0.25], [-0.125]],  # TRL wraps each token's log-prob
        },
        {
            "prompt_ids": np.array(IDS[:2]),
            "response_ids": np.array(IDS[2:]),
            "response_mask": np.array([1, 1, 1]),
            "response_logprobs": np.array(LPS[2:], dtype=np.float32),
        },
        {"input_ids": [IDS], "labels": [[-100, -100, 7, 8, 9]], "logprobs": [LPS]},
        {"input_ids": torch.tensor([IDS]), "loss_mask": torch.tensor([MASK]), "logprobs": LPS},
    ],
    ids=["nemo-rl", "trl", "verl", "hf", "flat"],
)
def test_every_shape_gives_the_same_sample(output: dict) -> None:
    (sample,) = normalize(output)
    assert (sample.token_ids, sample.trained) == (IDS, MASK)
    assert sample.logprobs == LPS


def test_a_padded_batch_with_left_and_right_padding_is_unpadded_per_row() -> None:
    batch = {
        "input_ids": torch.tensor([[0, 0, *IDS], [*IDS, 0, 0]]),
        "attention_mask": torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]]),
        "labels": torch.tensor(
            [[-100, -100, -100, -100, 7, 8, 9], [-100, -100, 7, 8, 9, -100, -100]]
        ),
    }
    left, right = normalize(batch)
    assert left.token_ids == right.token_ids == IDS
    assert left.trained == right.trained == MASK
    assert (left.left_padding, right.left_padding) == (2, 0)


def test_trl_completion_mask_is_padding_when_env_mask_is_given() -> None:
    (sample,) = normalize(
        {
            "prompt_ids": [IDS[:2]],
            "completion_ids": [[*IDS[2:], 0]],
            "completion_mask": [[1, 1, 1, 0]],
            "env_mask": [[1, 0, 1, 0]],
            "env_reward": [0.5],
        }
    )
    assert sample.token_ids == IDS
    assert sample.trained == [0, 0, 1, 0, 1]
    assert (sample.reward, sample.reward_given) == (0.5, True)


def test_a_list_of_samples_and_a_bare_message_log() -> None:
    samples = normalize(
        [{"input_ids": IDS, "loss_mask": MASK}, {"input_ids": IDS, "loss_mask": MASK}]
    )
    assert len(samples) == 2
    (sample,) = normalize([{"role": "assistant", "token_ids": [1, 2]}])
    assert sample.trained == [1, 1]


@pytest.mark.parametrize(
    ("output", "words"),
    [
        (None, "returned None"),
        ({"tokens": [1]}, "['tokens']"),
        ({"input_ids": IDS, "loss_mask": MASK[:3]}, "loss_mask has 3 entries for 5 input_ids"),
        (42, "returned a int"),
    ],
)
def test_unknown_or_inconsistent_output_is_a_batch_format_error(output: object, words: str) -> None:
    with pytest.raises(BatchFormatError, match=words.replace("[", r"\[").replace("]", r"\]")):
        normalize(output)


def test_a_forced_format_names_the_missing_keys() -> None:
    with pytest.raises(BatchFormatError, match="needs prompt_ids, completion_ids"):
        normalize({"input_ids": IDS, "loss_mask": MASK}, "trl")


def test_a_verl_dataproto_batch_with_one_attention_mask_over_prompt_and_response() -> None:
    batch = {
        "prompts": torch.tensor([[0, 0, 5, 6], [5, 6, 7, 8]]),
        "responses": torch.tensor([[7, 8, 9, 0], [9, 9, 0, 0]]),
        "response_mask": torch.tensor([[1, 0, 1, 0], [1, 1, 0, 0]]),
        "attention_mask": torch.tensor([[0, 0, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 0, 0]]),
        "rollout_log_probs": torch.tensor([[-0.5, 0.0, -0.25, 0.0], [-1.0, -2.0, 0.0, 0.0]]),
    }
    first, second = normalize(batch)
    assert (first.shape, first.token_ids, first.trained) == (
        "verl",
        [5, 6, 7, 8, 9],
        [0, 0, 1, 0, 1],
    )
    assert first.logprobs == [None, None, -0.5, 0.0, -0.25]
    assert (second.token_ids, second.trained) == ([5, 6, 7, 8, 9, 9], [0, 0, 0, 0, 1, 1])


def test_a_pydantic_agent_loop_output_like_verls() -> None:
    from pydantic import BaseModel

    class AgentLoopOutput(BaseModel):  # the fields of verl's agent-loop output
        prompt_ids: list[int]
        response_ids: list[int]
        response_mask: list[int]
        response_logprobs: list[float] | None = None
        reward_score: float | None = None
        num_turns: int = 0

    output = AgentLoopOutput(
        prompt_ids=IDS[:2],
        response_ids=IDS[2:],
        response_mask=[1, 1, 1],
        response_logprobs=LPS[2:],
        reward_score=1.0,
        num_turns=2,
    )
    (sample,) = normalize(output)
    assert (sample.shape, sample.token_ids, sample.trained) == ("verl", IDS, MASK)
    assert (sample.reward, sample.logprobs) == (1.0, LPS)
