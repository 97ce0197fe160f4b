"""Processors as users write them: one faithful processor per sample shape, and planted bugs.

Each faithful processor builds its samples the way its framework's NeMo Gym integration does,
from the rollout's own token ids: the first prompt, then per model call the generated ids
(trained) and what the next prompt added (tool output, template: not trained). A rollout whose
turns do not chain becomes one sample per turn. Each bug is one line of such a processor gone
wrong, the way the real bug is made.
"""

from __future__ import annotations

from typing import Any

TOKEN_FIELDS = ("prompt_token_ids", "generation_token_ids", "generation_log_probs")


def sequences(record: dict[str, Any]) -> list[tuple[list[int], list[int], list[float | None]]]:
    """``(ids, mask, engine logprobs)`` per sequence: the whole episode, or one per turn."""
    turns = [item for item in record["response"]["output"] if "generation_token_ids" in item]
    seen: list[int] = []
    ids: list[int] = []
    mask: list[int] = []
    logprobs: list[float | None] = []
    for item in turns:
        prompt = item["prompt_token_ids"]
        if prompt[: len(seen)] != seen:
            return [
                (
                    t["prompt_token_ids"] + t["generation_token_ids"],
                    [0] * len(t["prompt_token_ids"]) + [1] * len(t["generation_token_ids"]),
                    [None] * len(t["prompt_token_ids"]) + list(t["generation_log_probs"]),
                )
                for t in turns
            ]
        added = prompt[len(seen) :]
        generated = item["generation_token_ids"]
        ids += added + generated
        mask += [0] * len(added) + [1] * len(generated)
        logprobs += [None] * len(added) + list(item["generation_log_probs"])
        seen = prompt + generated
    return [(ids, mask, logprobs)]


def first_prompt_length(record: dict[str, Any]) -> int:
    item = next(i for i in record["response"]["output"] if "prompt_token_ids" in i)
    return len(item["prompt_token_ids"])


def _one_or_many(samples: list[dict[str, Any]]) -> Any:
    return samples[0] if len(samples) == 1 else samples


# --- faithful, one per shape ----------------------------------------------------------------


def nemo_rl(record: dict[str, Any], tokenizer: Any) -> Any:
    """NeMo RL: a message_log alternating prompt slices and assistant generations (tensors)."""
    import torch

    samples = []
    for ids, mask, logprobs in sequences(record):
        log: list[dict[str, Any]] = []
        start = 0
        for end in [i for i in range(1, len(ids)) if mask[i] != mask[i - 1]] + [len(ids)]:
            trained = bool(mask[start])
            entry: dict[str, Any] = {
                "role": "assistant" if trained else ("user" if start == 0 else "tool"),
                "token_ids": torch.tensor(ids[start:end]),
            }
            if trained:
                entry["generation_logprobs"] = torch.tensor(logprobs[start:end])
            log.append(entry)
            start = end
        samples.append({"message_log": log, "total_reward": record["reward"]})
    return _one_or_many(samples)


def trl(record: dict[str, Any], tokenizer: Any) -> Any:
    """TRL's rollout_func output, as TRL's NeMo Gym example builds it: lists, env_mask."""
    samples = []
    for ids, mask, logprobs in sequences(record):
        cut = mask.index(1)
        samples.append(
            {
                "prompt_ids": ids[:cut],
                "completion_ids": ids[cut:],
                "env_mask": mask[cut:],
                "logprobs": [0.0 if lp is None else lp for lp in logprobs[cut:]],
                "env_reward": record["reward"],
            }
        )
    return _one_or_many(samples)


def verl(record: dict[str, Any], tokenizer: Any) -> Any:
    """verl's agent-loop output: prompt_ids, response_ids, response_mask, response_logprobs."""
    import numpy as np

    samples = []
    for ids, mask, logprobs in sequences(record):
        cut = mask.index(1)
        samples.append(
            {
                "prompt_ids": np.array(ids[:cut]),
                "response_ids": np.array(ids[cut:]),
                "response_mask": np.array(mask[cut:]),
                "response_logprobs": np.array(
                    [0.0 if lp is None else lp for lp in logprobs[cut:]], dtype=np.float32
                ),
                "reward_score": record["reward"],
            }
        )
    return _one_or_many(samples)


def hf(record: dict[str, Any], tokenizer: Any) -> Any:
    """Hugging Face labels in a padded batch (left padding, attention_mask), one row a sequence."""
    import torch

    rows = sequences(record)
    width = max(len(ids) for ids, _, _ in rows)
    pad = tokenizer.pad_token_id if tokenizer is not None and tokenizer.pad_token_id else 0
    input_ids, labels, attention = [], [], []
    for ids, mask, _ in rows:
        fill = width - len(ids)
        input_ids.append([pad] * fill + ids)
        labels.append([-100] * fill + [t if m else -100 for t, m in zip(ids, mask, strict=True)])
        attention.append([0] * fill + [1] * len(ids))
    return {
        "input_ids": torch.tensor(input_ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(attention),
    }


def flat(record: dict[str, Any], tokenizer: Any) -> Any:
    """A flat loss mask in numpy arrays with a batch dimension of 1 (right padding, masked)."""
    import numpy as np

    samples = []
    for ids, mask, logprobs in sequences(record):
        samples.append(
            {
                "input_ids": np.array([[*ids, 0, 0]]),
                "attention_mask": np.array([[1] * len(ids) + [0, 0]]),
                "loss_mask": np.array([[*mask, 0, 0]]),
                "logprobs": np.array([[0.0 if lp is None else lp for lp in logprobs] + [0, 0]]),
                "reward": record["reward"],
            }
        )
    return _one_or_many(samples)


FAITHFUL = {"nemo-rl": nemo_rl, "trl": trl, "verl": verl, "hf": hf, "flat": flat}


# --- planted bugs: (code, processor) ---------------------------------------------------------


def trl_mask_shifted(record: dict[str, Any], tokenizer: Any) -> Any:
    """env_mask built one token late: [0] + mask[:-1]."""
    sample = trl(record, tokenizer)
    sample["env_mask"] = [0, *sample["env_mask"][:-1]]
    return sample


def hf_labels_shifted(record: dict[str, Any], tokenizer: Any) -> Any:
    """Labels shifted by hand (labels[t] = input_ids[t + 1]) although the model shifts them."""
    batch = hf(record, tokenizer)
    batch["labels"] = batch["labels"].roll(-1, dims=1)
    batch["labels"][:, -1] = -100
    return batch


def nemo_rl_tool_trained(record: dict[str, Any], tokenizer: Any) -> Any:
    """Tool entries given role "assistant": their tokens are trained."""
    sample = nemo_rl(record, tokenizer)
    for entry in sample["message_log"]:
        if entry["role"] == "tool":
            entry["role"] = "assistant"
    return sample


def flat_prompt_trained(record: dict[str, Any], tokenizer: Any) -> Any:
    """The mask covers the first prompt too (an off-by-prompt slice)."""
    sample = flat(record, tokenizer)
    sample["loss_mask"][0, : first_prompt_length(record)] = 1
    return sample


def verl_eos_dropped(record: dict[str, Any], tokenizer: Any) -> Any:
    """response_mask 0 on each generation's last token (the EOS stripped from the mask)."""
    sample = verl(record, tokenizer)
    mask = sample["response_mask"]
    for i in range(len(mask)):
        if mask[i] and (i + 1 == len(mask) or not mask[i + 1]):
            mask[i] = 0
    return sample


def trl_logprobs_shifted(record: dict[str, Any], tokenizer: Any) -> Any:
    """logprobs stored one position late (a leading entry for the prompt's last token)."""
    sample = trl(record, tokenizer)
    sample["logprobs"] = [0.0, *sample["logprobs"][:-1]]
    return sample


def verl_logprobs_zero(record: dict[str, Any], tokenizer: Any) -> Any:
    """response_logprobs zero-filled although the engine reported them."""
    sample = verl(record, tokenizer)
    sample["response_logprobs"][:] = 0.0
    return sample


def flat_truncated(record: dict[str, Any], tokenizer: Any) -> Any:
    """A max sequence length that cuts the last 20 tokens of the generation."""
    sample = flat(record, tokenizer)
    n = int(sample["attention_mask"].sum()) - 20
    return {key: value[:, :n] if key != "reward" else value for key, value in sample.items()}


def trl_reward_of_another(record: dict[str, Any], tokenizer: Any) -> Any:
    """The reward of another sample (lists zipped out of order)."""
    samples = trl(record, tokenizer)
    for sample in samples if isinstance(samples, list) else [samples]:
        sample["env_reward"] = 0.0 if record["reward"] else 1.0
    return samples


def flat_retokenized(record: dict[str, Any], tokenizer: Any) -> Any:
    """The sequence re-encoded from its decoded text instead of the token ids."""
    sample = flat(record, tokenizer)
    n = int(sample["attention_mask"].sum())
    ids = tokenizer.encode(
        tokenizer.decode(sample["input_ids"][0, :n].tolist()), add_special_tokens=False
    )
    return {"input_ids": ids, "loss_mask": [0] * len(ids), "reward": record["reward"]}


def placeholder_for_failed(record: dict[str, Any], tokenizer: Any) -> Any:
    """A failed rollout becomes a padded placeholder that still trains."""
    if not any("generation_token_ids" in i for i in record["response"]["output"]):
        return {"input_ids": [0, 0, 0, 0], "loss_mask": [1, 1, 1, 1], "reward": 0.0}
    return flat(record, tokenizer)


def raises(record: dict[str, Any], tokenizer: Any) -> Any:
    raise KeyError("message_log")


def returns_none(record: dict[str, Any], tokenizer: Any) -> Any:
    return None


def unknown_shape(record: dict[str, Any], tokenizer: Any) -> Any:
    return {"tokens": [1, 2, 3], "weights": [0, 1, 1]}


def flat_padding_kept(record: dict[str, Any], tokenizer: Any) -> Any:
    """The padded row without its attention_mask: the pad tokens look like sequence."""
    sample = flat(record, tokenizer)
    del sample["attention_mask"]
    return sample


def nemo_rl_logprobs_of_another(record: dict[str, Any], tokenizer: Any) -> Any:
    """generation_logprobs taken from another rollout's entries (a batch zipped out of order)."""
    import torch

    sample = nemo_rl(record, tokenizer)
    for entry in sample["message_log"]:
        if "generation_logprobs" in entry:
            n = len(entry["generation_logprobs"])
            entry["generation_logprobs"] = -torch.linspace(0.5, 3.0, n)
    return sample
