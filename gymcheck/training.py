"""The training side: load the trainer's model and turn rollouts into what a trainer trains on.

A model is a Hugging Face causal LM directory, or ``module:factory`` (``file.py:factory`` works
too): a callable returning a plain ``torch.nn.Module`` that maps ``input_ids [1, T]`` to logits
``[1, T, V]`` (or an object with ``.logits``). torch is imported only inside these functions.

A rollout becomes one ``TrainingSample`` per sequence: the whole episode when its turns are
contiguous, otherwise one sample per turn (prompt + that turn's generation), which is what a
trainer does with a rollout that breaks continuity.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gymcheck.errors import GymcheckError, ModelLoadError
from gymcheck.rollout import (
    ContinuityError,
    TrainingSequence,
    Turn,
    to_message_log,
    to_training_sequence,
    trainable_turns,
)

if TYPE_CHECKING:
    import torch

DTYPES = ("float32", "bfloat16", "float16", "float64")


def torch_missing_reason() -> str | None:
    """Why the training checks cannot run here, or ``None`` when torch is importable."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (pip install 'gymcheck[train]')"
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(slots=True)
class TrainModel:
    """The trainer's model, ready to score sequences."""

    module: Any
    """A ``torch.nn.Module``."""
    tokenizer: Any | None
    source: str
    dtype: str
    is_hf: bool = False

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits ``[1, T, V]`` for ``input_ids [1, T]``; ``ModelLoadError`` on another shape."""
        input_ids = input_ids.to(self.device)
        if self.is_hf:
            out = self.module(input_ids=input_ids, use_cache=False)
        else:
            out = self.module(input_ids)
        logits = getattr(out, "logits", out)
        if isinstance(logits, tuple | list):
            logits = logits[0]
        shape = tuple(getattr(logits, "shape", ()))
        if len(shape) != 3 or shape[:2] != tuple(input_ids.shape):
            raise ModelLoadError(
                f"model {self.source!r} returned {type(logits).__name__} of shape {shape}; "
                f"expected logits [1, T, V] for input_ids {tuple(input_ids.shape)}"
            )
        return logits

    @property
    def device(self) -> Any:
        """Where the weights are (the first parameter's device; CPU without parameters)."""
        import torch

        first = next(iter(self.module.parameters()), None)
        return first.device if first is not None else torch.device("cpu")

    def vocab_size(self) -> int:
        """The width of the model's logits (one forward pass over a single token)."""
        import torch

        with torch.no_grad():
            return int(self.logits(torch.zeros((1, 1), dtype=torch.long)).shape[-1])

    def decode(self, token_ids: Sequence[int]) -> str:
        """Text of ``token_ids``; ``<id>`` placeholders when there is no tokenizer."""
        ids = [int(t) for t in token_ids]
        if self.tokenizer is not None:
            try:
                return str(self.tokenizer.decode(ids))
            except Exception:  # a tokenizer that cannot decode an id is no reason to stop
                pass
        return "".join(f"<{i}>" for i in ids)


def _torch_dtype(dtype: str) -> Any:
    import torch

    if dtype not in DTYPES:
        raise ModelLoadError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def _load_factory(spec: str) -> Any:
    from gymcheck.processing.load import import_object

    if ":" not in spec:
        raise ModelLoadError(f"{spec!r} is neither a model directory nor module:factory")
    factory = import_object(spec, error=ModelLoadError)
    if not callable(factory):
        raise ModelLoadError(f"{spec!r} is not callable")
    try:
        return factory()
    except Exception as exc:
        raise ModelLoadError(f"{spec}() failed: {_one_line(exc)}") from exc


def load_train_model(
    path_or_factory: str, *, dtype: str = "float32", device: str | None = None
) -> TrainModel:
    """The training model from a Hugging Face directory or a ``module:factory`` path.

    ``device`` (e.g. ``"cuda"``) moves the weights there; by default they stay where they were
    loaded (the CPU for a directory). Nothing is downloaded. Raises ``ModelLoadError`` with a
    one-line reason on failure.
    """
    model = _load_train_model(path_or_factory, dtype=dtype)
    if device is not None:
        try:
            model.module.to(device)
        except Exception as exc:
            raise ModelLoadError(f"cannot move the model to {device!r}: {_one_line(exc)}") from exc
    return model


def _load_train_model(path_or_factory: str, *, dtype: str) -> TrainModel:
    reason = torch_missing_reason()
    if reason:
        raise ModelLoadError(reason)
    import torch

    torch_dtype = _torch_dtype(dtype)
    source = str(path_or_factory)
    path = Path(source).expanduser()
    if path.is_dir():
        from gymcheck.loading import quiet_transformers

        quiet_transformers()
        from transformers import AutoModelForCausalLM

        try:
            module = AutoModelForCausalLM.from_pretrained(
                str(path), dtype=torch_dtype, local_files_only=True
            )
        except Exception as exc:
            raise ModelLoadError(
                f"cannot load a causal LM from {source!r}: {_one_line(exc)}"
            ) from exc
        tokenizer = None
        try:
            from gymcheck.loading import load_tokenizer

            tokenizer = load_tokenizer(path)
        except GymcheckError:
            tokenizer = None  # decoded text falls back to <id>; the checks still run
        return TrainModel(module.eval(), tokenizer, source, dtype, is_hf=True)
    if path.exists():
        raise ModelLoadError(f"{source!r} is a file; give a model directory or module:factory")
    made = _load_factory(source)
    tokenizer = None
    if isinstance(made, tuple) and len(made) == 2:
        made, tokenizer = made
    if not isinstance(made, torch.nn.Module):
        raise ModelLoadError(f"{source} returned {type(made).__name__}, not a torch.nn.Module")
    tokenizer = tokenizer if tokenizer is not None else getattr(made, "tokenizer", None)
    return TrainModel(made.to(torch_dtype).eval(), tokenizer, source, dtype)


def train_model_or_reason(model: TrainModel | str) -> tuple[TrainModel | None, str]:
    """``(model, "")`` when the training checks can run, else ``(None, why they skip)``."""
    reason = torch_missing_reason()
    if reason:
        return None, reason
    try:
        return as_train_model(model), ""
    except GymcheckError as exc:
        return None, f"no training model: {exc}"


def as_train_model(model: TrainModel | str, *, dtype: str = "float32") -> TrainModel:
    """``model`` itself, or the model loaded from a path / factory string."""
    if isinstance(model, TrainModel):
        return model
    if isinstance(model, str):
        return load_train_model(model, dtype=dtype)
    import torch

    if isinstance(model, torch.nn.Module):
        return TrainModel(model, getattr(model, "tokenizer", None), type(model).__name__, dtype)
    raise ModelLoadError(f"model is a {type(model).__name__}, not a TrainModel, path or module")


# --- rollouts -> training samples -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GenerationSpan:
    """Where one turn's generated ids lie in a sample's sequence: ``[start, end)``."""

    turn: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TrainingSample:
    """One sequence a trainer trains on, with where the generated tokens really are.

    ``spans`` come from the record's turns, independently of the sequence's loss mask, so a
    mask that is empty, shifted or covers prompt tokens shows up against them.
    """

    rollout_index: int
    sequence: TrainingSequence
    spans: tuple[GenerationSpan, ...]
    reward: float | None
    per_turn: bool = False

    @property
    def generated_mask(self) -> list[int]:
        """1 exactly on the generated tokens, 0 elsewhere."""
        mask = [0] * len(self.sequence.token_ids)
        for span in self.spans:
            mask[span.start : span.end] = [1] * (span.end - span.start)
        return mask

    def turn_at(self, index: int) -> int | None:
        for span in self.spans:
            if span.start <= index < span.end:
                return span.turn
        return None


@dataclass(slots=True)
class SampleSet:
    samples: list[TrainingSample] = field(default_factory=list)
    rollouts: int = 0
    per_turn_rollouts: int = 0
    skipped: list[str] = field(default_factory=list)
    """One line per record that could not become a sample."""


def turn_sample(turn: Turn, rollout_index: int, reward: float | None) -> TrainingSample:
    """One turn on its own: its prompt (not trained) + its generation (trained)."""
    sequence = to_training_sequence(
        [
            {"role": "user", "token_ids": turn.prompt_token_ids, "trainable": False},
            {
                "role": "assistant",
                "token_ids": turn.generation_token_ids,
                "trainable": True,
                "generation_logprobs": turn.generation_log_probs,
            },
        ]
    )
    start = len(turn.prompt_token_ids)
    span = GenerationSpan(turn.number, start, start + len(turn.generation_token_ids))
    return TrainingSample(rollout_index, sequence, (span,), reward, True)


def record_reward(record: Mapping[str, Any]) -> float | None:
    """The record's reward when it is a finite number, else ``None``."""
    value = record.get("reward") if isinstance(record, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def samples_from_record(record: Mapping[str, Any], rollout_index: int) -> list[TrainingSample]:
    """The training samples of one record; ``RolloutFormatError`` for a malformed one."""
    turns = [t for t in trainable_turns(record) if t.generation_token_ids]
    reward = record_reward(record)
    try:
        message_log = to_message_log(record)
    except ContinuityError:
        return [turn_sample(turn, rollout_index, reward) for turn in turns]
    if not turns:
        return []
    spans = tuple(
        GenerationSpan(
            t.number,
            len(t.prompt_token_ids),
            len(t.prompt_token_ids) + len(t.generation_token_ids),
        )
        for t in turns
    )
    return [TrainingSample(rollout_index, to_training_sequence(message_log), spans, reward)]


def build_samples(
    records: Sequence[Mapping[str, Any]], *, max_rollouts: int | None = None
) -> SampleSet:
    """Samples from the first ``max_rollouts`` records that have generated tokens."""
    result = SampleSet()
    for index, record in enumerate(records):
        if max_rollouts is not None and result.rollouts >= max_rollouts:
            break
        try:
            samples = samples_from_record(record, index)
        except GymcheckError as exc:
            result.skipped.append(f"rollout {index}: {exc}")
            continue
        if not samples:
            result.skipped.append(f"rollout {index}: no generated tokens")
            continue
        result.rollouts += 1
        result.per_turn_rollouts += int(samples[0].per_turn)
        result.samples.extend(samples)
    return result


def check_token_range(sample: TrainingSample, vocab_size: int) -> int | None:
    """Index of the first id outside ``[0, vocab_size)``, or ``None``."""
    for i, token in enumerate(sample.sequence.token_ids):
        if not 0 <= int(token) < vocab_size:
            return i
    return None


# --- log-probs --------------------------------------------------------------------------------


def next_token_logprobs(
    logits: torch.Tensor,
    token_ids: torch.Tensor,
    *,
    temperature: float = 1.0,
    positions: torch.Tensor | None = None,
    chunk: int = 512,
) -> torch.Tensor:
    """log p(token[t] | tokens[:t]) for each ``t`` in ``positions`` (default: 1..T-1).

    ``logits`` is ``[T, V]``; row ``t - 1`` predicts token ``t``. Computed in float32, in
    chunks so a long sequence over a large vocabulary does not materialize ``[T, V]`` twice.
    """
    import torch

    token_ids = token_ids.to(logits.device)
    if positions is None:
        positions = torch.arange(1, token_ids.shape[0], device=logits.device)
    positions = positions.to(logits.device)
    out = []
    for begin in range(0, positions.shape[0], chunk):
        pos = positions[begin : begin + chunk]
        rows = logits[pos - 1].float() / temperature
        targets = token_ids[pos].unsqueeze(-1)
        out.append(rows.gather(-1, targets).squeeze(-1) - torch.logsumexp(rows, dim=-1))
    if not out:
        return torch.zeros(0, dtype=torch.float32)
    return torch.cat(out)


def recompute_logprobs(
    model: TrainModel, token_ids: Sequence[int], *, temperature: float = 1.0
) -> list[float | None]:
    """The trainer's log-prob of every token of ``token_ids`` (``None`` for the first)."""
    import torch

    ids = torch.tensor([list(token_ids)], dtype=torch.long)
    with torch.no_grad():
        logits = model.logits(ids)[0]
        values = next_token_logprobs(logits, ids[0], temperature=temperature).tolist()
    return [None, *values]
