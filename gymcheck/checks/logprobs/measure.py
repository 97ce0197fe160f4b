"""Measuring log-prob agreement: the training model scores each rollout's full sequence, and at
every generated token its log-prob of that token (at the sampling temperature) is paired with
the engine's ``generation_log_probs``.

The metrics are the ones NeMo RL logs: ``token_mult_prob_error`` = mean exp(|gen - train|) and
``gen_kl_error`` = mean k3 = mean(exp(train - gen) - 1 - (train - gen)), an estimate of
KL(engine || trainer) on the engine's own samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymcheck.errors import GymcheckError, LengthMismatchError
from gymcheck.progress import Progress
from gymcheck.training import (
    TrainingSample,
    TrainModel,
    as_train_model,
    check_token_range,
    next_token_logprobs,
    samples_from_record,
)

_PROBE_ROWS = 128


@dataclass(slots=True)
class Agreement:
    """Per-token pairs of the engine's and the trainer's log-probs, with where they came from."""

    temperature: float
    gen: list[float] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    rollout_index: list[int] = field(default_factory=list)
    turn: list[int] = field(default_factory=list)
    token_index: list[int] = field(default_factory=list)
    token_id: list[int] = field(default_factory=list)
    shifted: dict[int, tuple[list[float], list[float]]] = field(
        default_factory=lambda: {1: ([], []), -1: ([], [])}
    )
    """For shift s: (gen[i], train[i - s]) inside each generation."""
    probe_logits: Any = None
    """Logit rows ``[K, V]`` (float32, CPU) at the first 128 generated positions: enough to fit
    a temperature or a top-k/top-p cut on failure, small enough to keep for any vocabulary."""
    probe_tokens: list[int] = field(default_factory=list)
    probe_gen: list[float] = field(default_factory=list)
    rollouts: int = 0
    per_turn_rollouts: int = 0
    missing_logprobs: int = 0
    skipped: list[str] = field(default_factory=list)
    model_dtype: str = "float32"
    decode: Callable[[Sequence[int]], str] = lambda ids: "".join(f"<{i}>" for i in ids)

    @property
    def n_tokens(self) -> int:
        return len(self.gen)


def agreement_metrics(gen: Sequence[float] | Any, train: Sequence[float] | Any) -> dict[str, float]:
    """``token_mult_prob_error``, ``gen_kl_error`` (k3), ``max_abs_diff`` and ``mean_diff``.

    ``gen`` and ``train`` are sequences or arrays of equal length; computed in float64 with
    numpy, so a training loop can call it on every batch.
    """
    import numpy as np

    g = np.asarray(gen, dtype=np.float64).ravel()
    t = np.asarray(train, dtype=np.float64).ravel()
    if g.shape != t.shape:
        raise LengthMismatchError(f"{g.size} engine log-probs for {t.size} trainer log-probs")
    n = int(g.size)
    if n == 0:
        return {"n_tokens": 0}
    diff = g - t
    log_ratio = -diff
    return {
        "n_tokens": n,
        "token_mult_prob_error": float(np.exp(np.minimum(np.abs(diff), 700.0)).mean()),
        "gen_kl_error": float((np.exp(np.minimum(log_ratio, 700.0)) - 1.0 - log_ratio).mean()),
        "max_abs_diff": float(np.abs(diff).max()),
        "mean_diff": float(diff.mean()),
    }


def _finite_logprob(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _score_sample(model: TrainModel, sample: TrainingSample, agreement: Agreement) -> None:
    import torch

    ids = torch.tensor([sample.sequence.token_ids], dtype=torch.long)
    positions = [i for span in sample.spans for i in range(max(span.start, 1), span.end)]
    if not positions:
        return
    with torch.no_grad():
        logits = model.logits(ids)[0]
        pos = torch.tensor(positions, dtype=torch.long)
        train = next_token_logprobs(
            logits, ids[0], temperature=agreement.temperature, positions=pos
        ).tolist()
    trained = dict(zip(positions, train, strict=True))
    gen_at = sample.sequence.generation_logprobs
    probe_rows = []
    for span in sample.spans:
        for i in range(span.start, span.end):
            gen = _finite_logprob(gen_at[i])
            if gen is None or i not in trained:
                agreement.missing_logprobs += int(gen is None)
                continue
            agreement.gen.append(gen)
            agreement.train.append(trained[i])
            agreement.rollout_index.append(sample.rollout_index)
            agreement.turn.append(span.turn)
            agreement.token_index.append(i)
            agreement.token_id.append(int(sample.sequence.token_ids[i]))
            for shift in (1, -1):
                if span.start <= i - shift < span.end and (i - shift) in trained:
                    agreement.shifted[shift][0].append(gen)
                    agreement.shifted[shift][1].append(trained[i - shift])
            if len(agreement.probe_gen) < _PROBE_ROWS:
                probe_rows.append(i)
                agreement.probe_gen.append(gen)
                agreement.probe_tokens.append(int(sample.sequence.token_ids[i]))
    if probe_rows:
        rows = logits[torch.tensor(probe_rows, device=logits.device) - 1].float().cpu()
        agreement.probe_logits = (
            rows if agreement.probe_logits is None else torch.cat([agreement.probe_logits, rows])
        )


def measure_logprob_agreement(
    records: Sequence[Mapping[str, Any]],
    model: TrainModel | str,
    *,
    tokenizer: Any = None,
    temperature: float = 1.0,
    max_rollouts: int | None = None,
    progress: Progress | None = None,
    samples: Sequence[Sequence[TrainingSample]] | None = None,
) -> Agreement:
    """Score every rollout with the training model; the per-token pairs, for checks and plots.

    ``samples`` (one list per record) replaces gymcheck's own processing of the records: pass
    the trainer's processed samples to score what it trains, at the positions it trains.
    """
    if not temperature > 0:
        raise GymcheckError(f"temperature must be > 0, not {temperature}")
    train_model = as_train_model(model)
    if isinstance(tokenizer, str):
        from gymcheck.loading import load_tokenizer

        tokenizer = load_tokenizer(tokenizer)
    if tokenizer is not None:
        train_model = TrainModel(
            train_model.module, tokenizer, train_model.source, train_model.dtype, train_model.is_hf
        )
    agreement = Agreement(
        temperature=float(temperature), model_dtype=train_model.dtype, decode=train_model.decode
    )
    vocab: int | None = None
    for index, record in enumerate(records):
        if max_rollouts is not None and agreement.rollouts >= max_rollouts:
            break
        try:
            scored = (
                list(samples[index]) if samples is not None else samples_from_record(record, index)
            )
        except GymcheckError as exc:
            agreement.skipped.append(f"rollout {index}: {exc}")
            scored = []
        if scored:
            agreement.rollouts += 1
            agreement.per_turn_rollouts += int(scored[0].per_turn)
        for sample in scored:
            if vocab is None:
                vocab = train_model.vocab_size()
            bad = check_token_range(sample, vocab)
            if bad is not None:
                agreement.skipped.append(
                    f"rollout {index}: token {bad} has id {sample.sequence.token_ids[bad]}, "
                    f"outside the model's vocabulary of {vocab} (wrong model?)"
                )
                continue
            _score_sample(train_model, sample, agreement)
        if progress is not None:
            progress(index + 1, len(records))
    return agreement
