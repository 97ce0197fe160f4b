"""The five sample shapes of DESIGN section 3b, each normalized into one ``Sample``.

A sample may hold tensors, numpy arrays or lists; a leading batch dimension of 1, a ragged
batch (one row per sequence) or a padded batch with ``attention_mask`` (left or right padding)
becomes one ``Sample`` per row, with the padding removed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gymcheck.errors import GymcheckError
from gymcheck.processing import values as v

BATCH_FORMATS = ("auto", "nemo-rl", "trl", "verl", "hf", "flat")
IGNORE_INDEX = -100
FLAT_MASK_KEYS = ("loss_mask", "action_mask", "assistant_masks")
FLAT_LOGPROB_KEYS = ("logprobs", "generation_logprobs", "rollout_log_probs")
REWARD_KEYS = ("reward", "rewards", "env_reward", "reward_score", "total_reward")


@dataclass(frozen=True, slots=True)
class Sample:
    """One sequence as the trainer will train it, in gymcheck's terms."""

    shape: str
    token_ids: list[int]
    trained: list[int]
    """1 where the loss weights ``log p(token_ids[t] | token_ids[:t])``."""
    logprobs: list[float | None] | None
    """The engine log-prob the trainer stored for each position; ``None``: the shape has none."""
    reward: float | None = None
    reward_given: bool = False
    left_padding: int = 0
    """Positions removed from the left (padding); token indices are after its removal."""
    notes: tuple[str, ...] = ()


class BatchFormatError(GymcheckError):
    """A processor output that none of the shapes matches, or an inconsistent one."""

    def __init__(self, message: str, keys: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.keys = list(keys)


def detect(sample: Mapping[str, Any]) -> str | None:
    """The shape a sample's keys say it is, or ``None``."""
    keys = set(sample)
    if "message_log" in keys:
        return "nemo-rl"
    if {"prompt_ids", "completion_ids"} <= keys:
        return "trl"
    if {"prompt_ids", "response_ids"} <= keys or {"prompts", "responses"} <= keys:
        return "verl"  # the agent loop's output, or a row of the trainer's DataProto
    if {"input_ids", "labels"} <= keys:
        return "hf"
    if "input_ids" in keys and keys & set(FLAT_MASK_KEYS):
        return "flat"
    return None


def _is_message_log(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, Mapping) and "token_ids" in m for m in value)
    )


def normalize(output: Any, batch_format: str = "auto") -> list[Sample]:
    """The samples in a processor's output; ``BatchFormatError`` when it has no known shape."""
    if batch_format not in BATCH_FORMATS:
        raise GymcheckError(f"batch format {batch_format!r} is not one of {BATCH_FORMATS}")
    if output is None:
        raise BatchFormatError("the processor returned None")
    if _is_message_log(output):  # a bare message_log list
        output = {"message_log": output}
    mapping = v.as_mapping(output)
    if mapping is None:
        if isinstance(output, list | tuple):
            return [s for item in output for s in normalize(item, batch_format)]
        raise BatchFormatError(f"the processor returned a {type(output).__name__}, not a sample")
    sample = {str(k): v.plain(val) for k, val in mapping.items()}
    shape = detect(sample) if batch_format == "auto" else batch_format
    if shape is None:
        raise BatchFormatError(
            f"no sample shape has the keys {sorted(sample)}: expected message_log (NeMo RL), "
            "prompt_ids + completion_ids (TRL), prompt_ids + response_ids (verl), input_ids + "
            "labels (Hugging Face) or input_ids + loss_mask (flat)",
            keys=sorted(sample),
        )
    try:
        return _NORMALIZERS[shape](sample)
    except BatchFormatError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise BatchFormatError(
            f"a {shape} sample that cannot be read ({type(exc).__name__}: {exc}); keys "
            f"{sorted(sample)}",
            keys=sorted(sample),
        ) from exc


# --- helpers over a plain dict ------------------------------------------------------------


def _need(sample: Mapping[str, Any], shape: str, *keys: str) -> None:
    missing = [k for k in keys if sample.get(k) is None]
    if missing:
        raise BatchFormatError(
            f"a {shape} sample needs {', '.join(missing)}; it has {sorted(sample)}",
            keys=sorted(sample),
        )


def _first(sample: Mapping[str, Any], keys: Sequence[str]) -> tuple[str | None, Any]:
    for key in keys:
        if sample.get(key) is not None:
            return key, sample[key]
    return None, None


def _row(value: Any, r: int, n_rows: int, row_len: int | None = None) -> Any:
    """Row ``r`` of a per-row field; a 1-row batch may or may not carry its batch dimension."""
    if value is None or v.depth(value) == 0 or not value:
        return value
    if n_rows > 1:
        return value[r]
    if isinstance(value[0], list) and len(value) == 1 and (row_len is None or row_len != 1):
        return value[0]
    return value


def _reward(sample: Mapping[str, Any], r: int, n_rows: int) -> tuple[float | None, bool]:
    key, value = _first(sample, REWARD_KEYS)
    if key is None:
        return None, False
    value = _row(value, r, n_rows)
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    return v.logprob(value) if not isinstance(value, bool) else None, True


def _row_sample(
    sample: Mapping[str, Any],
    r: int,
    n_rows: int,
    shape: str,
    token_ids: list[int],
    trained: list[int],
    logprobs: list[float | None] | None,
    *,
    left_padding: int = 0,
    notes: Sequence[str] = (),
) -> Sample:
    """Row ``r`` of a sample of ``n_rows`` rows as a ``Sample``, with the reward of that row."""
    reward, given = _reward(sample, r, n_rows)
    return Sample(shape, token_ids, trained, logprobs, reward, given, left_padding, tuple(notes))


def _aligned(values: Any, n: int, name: str, notes: list[str]) -> list[float | None]:
    """Log-probs aligned from the first position; a length mismatch is noted, not fatal."""
    out = v.logprobs(values)
    if len(out) != n:
        notes.append(f"{name} has {len(out)} entries for {n} tokens")
        out = (out + [None] * n)[:n]
    return out


def _same_length(shape: str, name: str, values: Sequence[Any], n: int, of: str) -> None:
    if len(values) != n:
        raise BatchFormatError(f"{shape}: {name} has {len(values)} entries for {n} {of}")


# --- the shapes ---------------------------------------------------------------------------


def _nemo_rl(sample: Mapping[str, Any]) -> list[Sample]:
    logs = sample["message_log"]
    logs = logs if logs and isinstance(logs[0], list) else [logs]
    out = []
    for r, log in enumerate(logs):
        ids: list[int] = []
        trained: list[int] = []
        logprobs: list[float | None] = []
        notes: list[str] = []
        any_logprobs = False
        for k, message in enumerate(log):
            tokens = message.get("token_ids") if isinstance(message, Mapping) else None
            if tokens is None:
                raise BatchFormatError(f"nemo-rl: message_log[{k}] has no token_ids")
            tokens = v.token_ids(tokens[0] if v.depth(tokens) == 2 else tokens)
            if message.get("token_loss_mask") is not None:
                weights = v.mask(message["token_loss_mask"])
                _same_length(
                    "nemo-rl",
                    f"message_log[{k}].token_loss_mask",
                    weights,
                    len(tokens),
                    "token_ids",
                )
            else:
                flag = message.get("trainable", message.get("role") == "assistant")
                weights = [1 if flag else 0] * len(tokens)
            given = message.get("generation_logprobs")
            if given is not None:
                any_logprobs = True
                entry = _aligned(given, len(tokens), f"message_log[{k}].generation_logprobs", notes)
            else:
                entry = [None] * len(tokens)
            ids += tokens
            trained += weights
            logprobs += entry
        kept = logprobs if any_logprobs else None
        out.append(_row_sample(sample, r, len(logs), "nemo-rl", ids, trained, kept, notes=notes))
    return out


def _prompt_response(
    sample: Mapping[str, Any],
    shape: str,
    response_key: str,
    mask_keys: Sequence[str],
    logprob_keys: Sequence[str],
    padding_key: str | None,
) -> list[Sample]:
    """TRL and verl: a prompt part (not trained) followed by a masked response part."""
    _need(sample, shape, "prompt_ids", response_key)
    mask_key, mask_value = _first(sample, mask_keys)
    if mask_key is None:
        raise BatchFormatError(
            f"a {shape} sample needs one of {', '.join(mask_keys)}; it has {sorted(sample)}",
            keys=sorted(sample),
        )
    lp_key, lp_value = _first(sample, logprob_keys)
    prompts, responses = v.rows(sample["prompt_ids"]), v.rows(sample[response_key])
    n = len(responses)
    out = []
    for r in range(n):
        prompt, response = prompts[r if len(prompts) > 1 else 0], responses[r]
        weights = _row(mask_value, r, n, len(response))
        _same_length(shape, mask_key, weights, len(response), response_key)
        prompt_pad = _row(sample.get("prompt_mask"), r, n, len(prompt))
        pad = _row(sample.get(padding_key), r, n, len(response)) if padding_key else None
        attention = _row(sample.get("attention_mask"), r, n, len(prompt) + len(response))
        if attention is not None and len(attention) == len(prompt) + len(response):
            # One attention mask over prompt + response (TRL's trainer, verl's DataProto).
            prompt_pad = prompt_pad or attention[: len(prompt)]
            pad = pad or attention[len(prompt) :]
        plow, phigh = v.padding(prompt_pad or [1])
        rlow, rhigh = v.padding(pad) if pad is not None else (0, 0)
        if pad is not None:  # TRL's loss mask is completion_mask * tool_mask
            weights = [w if p else 0 for w, p in zip(weights, pad, strict=False)]
        notes: list[str] = []
        prompt_ids = v.token_ids(v.unpad(prompt, plow, phigh))
        response_ids = v.token_ids(v.unpad(response, rlow, rhigh))
        logprobs = None
        if lp_key is not None:
            row = v.unpad(_row(lp_value, r, n, len(response)), rlow, rhigh)
            logprobs = [None] * len(prompt_ids) + _aligned(row, len(response_ids), lp_key, notes)
        ids = prompt_ids + response_ids
        trained = [0] * len(prompt_ids) + v.mask(v.unpad(weights, rlow, rhigh))
        out.append(
            _row_sample(sample, r, n, shape, ids, trained, logprobs, left_padding=plow, notes=notes)
        )
    return out


def _trl(sample: Mapping[str, Any]) -> list[Sample]:
    # With env_mask (tool_mask inside GRPOTrainer), completion_mask is TRL's padding mask and
    # the loss mask is their product; alone, completion_mask is the loss mask.
    has_tool_mask = sample.get("env_mask") is not None or sample.get("tool_mask") is not None
    return _prompt_response(
        sample,
        "trl",
        "completion_ids",
        ("env_mask", "tool_mask", "completion_mask"),
        ("logprobs", "sampling_per_token_logps", "sampling_logprobs"),
        "completion_mask" if has_tool_mask else None,
    )


def _verl(sample: Mapping[str, Any]) -> list[Sample]:
    if "response_ids" not in sample and "responses" in sample:  # DataProto's batch keys
        sample = {
            **sample,
            "prompt_ids": sample.get("prompts"),
            "response_ids": sample["responses"],
        }
    return _prompt_response(
        sample,
        "verl",
        "response_ids",
        ("response_mask",),
        ("response_logprobs", "rollout_log_probs"),
        None,
    )


def _flat_like(
    sample: Mapping[str, Any],
    shape: str,
    weights_of: Callable[[list[Any], list[Any]], list[int]],
    mask_key: str,
) -> list[Sample]:
    id_rows = v.rows(sample["input_ids"])
    n = len(id_rows)
    lp_key, lp_value = _first(sample, FLAT_LOGPROB_KEYS)
    out = []
    for r, row in enumerate(id_rows):
        raw = _row(sample[mask_key], r, n, len(row))
        if mask_key == "action_mask" and len(raw) < len(row):
            raw = [0] * (len(row) - len(raw)) + list(raw)  # OpenRLHF: the last positions' mask
        _same_length(shape, mask_key, raw, len(row), "input_ids")
        low, high = v.padding(_row(sample.get("attention_mask"), r, n, len(row)) or [1])
        ids = v.unpad(row, low, high)
        notes: list[str] = []
        logprobs = None
        if lp_key is not None:
            logprobs = _aligned(
                v.unpad(_row(lp_value, r, n, len(row)), low, high), len(ids), lp_key, notes
            )
        token_ids, trained = v.token_ids(ids), weights_of(ids, v.unpad(raw, low, high))
        out.append(
            _row_sample(
                sample, r, n, shape, token_ids, trained, logprobs, left_padding=low, notes=notes
            )
        )
    return out


def _hf(sample: Mapping[str, Any]) -> list[Sample]:
    _need(sample, "hf", "input_ids", "labels")
    return _flat_like(
        sample,
        "hf",
        lambda _ids, labels: [0 if int(x) == IGNORE_INDEX else 1 for x in labels],
        "labels",
    )


def _flat(sample: Mapping[str, Any]) -> list[Sample]:
    key, _ = _first(sample, FLAT_MASK_KEYS)
    if key is None or sample.get("input_ids") is None:
        raise BatchFormatError(
            f"a flat sample needs input_ids and one of {', '.join(FLAT_MASK_KEYS)}; "
            f"it has {sorted(sample)}",
            keys=sorted(sample),
        )
    return _flat_like(sample, "flat", lambda _ids, weights: v.mask(weights), key)


_NORMALIZERS: dict[str, Callable[[Mapping[str, Any]], list[Sample]]] = {
    "nemo-rl": _nemo_rl,
    "trl": _trl,
    "verl": _verl,
    "hf": _hf,
    "flat": _flat,
}
