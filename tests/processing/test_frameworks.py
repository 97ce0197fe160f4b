"""Samples batched by a framework's own code, fed to ``training_batch``.

TRL: a ``rollout_func``'s output padded into the trainer batch exactly as ``GRPOTrainer``
does it (``trl.trainer.utils.pad``: prompts left-padded, completions, ``tool_mask`` and
sampling log-probs right-padded). Hugging Face: ``DataCollatorForSeq2Seq`` pads ``labels``
with -100. verl's own data code cannot run here (its dependency list pins another
transformers and pulls in Ray), so its shape is covered by the hand-built samples only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import batch_processors as bp
import pytest
import torch
from transformers import DataCollatorForSeq2Seq
from trl.trainer.utils import pad

from gymcheck.checks.training_batch import check_training_batch
from gymcheck.report import Status


def grpo_batch(samples: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """The batch GRPOTrainer builds from a rollout_func's output (trl 1.16)."""
    prompt_ids = [torch.tensor(s["prompt_ids"]) for s in samples]
    completion_ids = [torch.tensor(s["completion_ids"]) for s in samples]
    return {
        "prompt_ids": pad(prompt_ids, padding_value=pad_id, padding_side="left"),
        "prompt_mask": pad(
            [torch.ones_like(p) for p in prompt_ids], padding_value=0, padding_side="left"
        ),
        "completion_ids": pad(completion_ids, padding_value=pad_id, padding_side="right"),
        "completion_mask": pad(
            [torch.ones_like(c) for c in completion_ids], padding_value=0, padding_side="right"
        ),
        "tool_mask": pad(
            [torch.tensor(s["env_mask"]) for s in samples], padding_value=1, padding_side="right"
        ),
        "sampling_per_token_logps": pad(
            [torch.tensor(s["logprobs"]) for s in samples], padding_value=0.0, padding_side="right"
        ),
    }


def as_list(output: Any) -> list[dict[str, Any]]:
    return output if isinstance(output, list) else [output]


@pytest.fixture(scope="module")
def gym_fixture(fixture_rollout_path: Path) -> dict[str, Any]:
    return json.loads(fixture_rollout_path.read_text())


@pytest.fixture(scope="module")
def episode(qwen3_tokenizer: Any) -> dict[str, Any]:
    import rollout_builders as rb

    turns = rb.tito_turns(qwen3_tokenizer, 3)
    logprobs = [[-0.02 * (i % 11 + 1) for i in range(len(g))] for _, g in turns]
    return rb.make_record(turns, logprobs=logprobs)


def test_trls_grpo_batch_of_a_faithful_rollout_func_passes(
    gym_fixture: dict, episode: dict, qwen3_tokenizer: Any
) -> None:
    pad_id = qwen3_tokenizer.pad_token_id

    def processor(record: dict, tokenizer: Any) -> Any:
        return grpo_batch(as_list(bp.trl(record, tokenizer)), pad_id)

    result = check_training_batch(
        [episode, gym_fixture], processor=processor, tokenizer=qwen3_tokenizer
    )
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert result.details["samples"] == 3


def test_trls_grpo_batch_of_a_shifted_env_mask_is_named(
    episode: dict, qwen3_tokenizer: Any
) -> None:
    pad_id = qwen3_tokenizer.pad_token_id
    first_generated = len(episode["response"]["output"][0]["prompt_token_ids"])

    def processor(record: dict, tokenizer: Any) -> Any:
        return grpo_batch([bp.trl_mask_shifted(record, tokenizer)], pad_id)

    result = check_training_batch([episode], processor=processor, tokenizer=qwen3_tokenizer)
    (finding,) = result.findings
    assert (finding.code, finding.details["shift"], finding.token_index) == (
        "batch_mask_shifted",
        1,
        first_generated,
    )


def test_hugging_faces_seq2seq_collator_pads_labels_that_pass(
    gym_fixture: dict, qwen3_tokenizer: Any
) -> None:
    collator = DataCollatorForSeq2Seq(qwen3_tokenizer, padding=True, label_pad_token_id=-100)

    def processor(record: dict, tokenizer: Any) -> Any:
        features = [
            {
                "input_ids": ids,
                "attention_mask": [1] * len(ids),
                "labels": [t if m else -100 for t, m in zip(ids, mask, strict=True)],
            }
            for ids, mask, _ in bp.sequences(record)
        ]
        return dict(collator(features))

    result = check_training_batch([gym_fixture], processor=processor, tokenizer=qwen3_tokenizer)
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert result.details["shapes"] == {"hf": 2}
