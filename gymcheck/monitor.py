"""A per-batch monitor for the training loop: the rollouts of one step and the samples the
trainer made of them, checked in one call, with a flat dict of numbers for ``wandb.log`` or
TensorBoard's ``add_scalar``.

    report = gymcheck.monitor.check_batch(rollouts, samples, tokenizer=tokenizer)
    wandb.log(report.metrics, step=step)

No model runs here. When the trainer passes the log-probs it computed (``trainer_logprobs``),
their agreement with the engine's is measured with ``logprob_agreement``'s metrics.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gymcheck.checks.logprobs.measure import agreement_metrics
from gymcheck.checks.training_batch.diagnose import PairedSample, RolloutBatch, diagnose_rollout
from gymcheck.errors import LengthMismatchError
from gymcheck.processing.load import ProcessorCall
from gymcheck.processing.values import depth, logprob, plain
from gymcheck.report import Finding

MASK_CODES = (
    "batch_mask_prompt",
    "batch_mask_tool_output",
    "batch_mask_missing_generation",
    "batch_mask_shifted",
)
BATCH_CODES = (
    "batch_format",
    "batch_tokens_mismatch",
    *MASK_CODES,
    "batch_logprobs_shifted",
    "batch_logprobs_placeholder",
    "batch_logprobs_mismatch",
    "batch_truncated",
    "batch_reward_mismatch",
    "batch_failed_rollout_trained",
)


@dataclass(slots=True)
class BatchReport:
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    """Numbers only, keyed ``{prefix}{name}``: ready for ``wandb.log`` / ``add_scalar``."""

    @property
    def passed(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


def logprob_metrics(engine: Any, trainer: Any, mask: Any = None) -> dict[str, float]:
    """``token_mult_prob_error``, ``gen_kl_error``, ``max_abs_diff``, ``mean_diff``, ``n_tokens``.

    ``engine`` and ``trainer`` are the log-probs the trainer already holds (lists, tensors or
    arrays of one shape, e.g. ``[B, T]``); ``mask`` (same shape) picks the trained tokens. Only
    positions where both are finite numbers count. The same math as ``logprob_agreement``.
    """
    gen, train = _array(engine), _array(trainer)
    weights = _array(mask) if mask is not None else np.ones_like(gen)
    if not gen.size == train.size == weights.size:
        raise LengthMismatchError(
            f"engine ({gen.size}), trainer ({train.size}) and mask ({weights.size}) log-probs "
            "must have the same number of entries"
        )
    keep = (weights != 0) & np.isfinite(gen) & np.isfinite(train)
    return agreement_metrics(gen[keep], train[keep])


def _array(values: Any) -> Any:
    """A flat float64 array; ``None`` and non-numbers become NaN (and are then left out)."""
    values = plain(values)
    try:
        return np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):  # ragged rows or odd entries: one value at a time
        while depth(values) > 1:
            values = [x for row in values for x in row]
        flat = [logprob(x) for x in (values if isinstance(values, list) else [values])]
        return np.array([math.nan if x is None else x for x in flat], dtype=np.float64)


def check_batch(
    rollouts: Sequence[Mapping[str, Any]],
    samples: Sequence[Any],
    *,
    tokenizer: Any = None,
    batch_format: str = "auto",
    trainer_logprobs: Sequence[Any] | None = None,
    prefix: str = "gymcheck/",
) -> BatchReport:
    """Check one training step's rollouts against the samples the trainer made of them.

    ``samples[i]`` is what the processing gave for ``rollouts[i]``: a sample or a list of
    samples, in any shape of DESIGN section 3b. ``trainer_logprobs[i]`` (optional) holds the
    trainer's log-probs for that sample's tokens, ``[t]`` scoring token ``t``: aligned with
    its sequence, or padded like it, or only the completion's / response's (TRL, verl), which
    end the sequence.
    """
    if len(samples) != len(rollouts):
        raise LengthMismatchError(
            f"{len(samples)} samples for {len(rollouts)} rollouts: pass one each"
        )
    batches = [
        diagnose_rollout(
            record, i, ProcessorCall(samples[i]), tokenizer=tokenizer, batch_format=batch_format
        )
        for i, record in enumerate(rollouts)
    ]
    findings = [f for batch in batches for f in batch.findings]
    metrics = _batch_metrics(batches, findings)
    if trainer_logprobs is not None:
        metrics.update(_trainer_agreement(batches, trainer_logprobs))
    return BatchReport(findings, {f"{prefix}{k}": float(v) for k, v in metrics.items()})


def _batch_metrics(
    batches: Sequence[RolloutBatch], findings: Sequence[Finding]
) -> dict[str, float]:
    codes = Counter(f.code for f in findings)
    usable = [b for b in batches if b.truth.failed is None]
    broken = sum(1 for b in usable if not b.truth.contiguous)
    samples = sum(len(b.samples) for b in batches)
    mask_bad = {
        (f.rollout_index, f.details.get("sample")) for f in findings if f.code in MASK_CODES
    }
    metrics: dict[str, float] = {
        "rollouts": len(batches),
        "samples": samples,
        "failed_rollouts": len(batches) - len(usable),
        "continuity_break_rate": broken / len(usable) if usable else 0.0,
        "mask_errors": sum(codes[c] for c in MASK_CODES),
        "mask_error_rate": len(mask_bad) / samples if samples else 0.0,
        "reward_mismatches": codes["batch_reward_mismatch"],
        "findings": len(findings),
    }
    metrics.update({f"findings/{code}": codes[code] for code in BATCH_CODES})
    return metrics


def _engine_logprobs(paired: PairedSample) -> list[float | None]:
    """The rollout's engine log-prob at each of the sample's positions (the sample's own when
    its ids do not line up with the rollout)."""
    sample, al = paired.sample, paired.alignment
    if al is None:
        return (
            list(sample.logprobs) if sample.logprobs is not None else [None] * len(sample.token_ids)
        )
    truth = paired.truth.sample.sequence.generation_logprobs
    out: list[float | None] = [None] * len(sample.token_ids)
    out[al.sample_start : al.sample_start + al.length] = truth[
        al.truth_start : al.truth_start + al.length
    ]
    return out


def _trainer_agreement(
    batches: Sequence[RolloutBatch], trainer_logprobs: Sequence[Any]
) -> dict[str, float]:
    gen, train = [], []
    for batch, given in zip(batches, trainer_logprobs, strict=True):
        rows = given if len(batch.paired) > 1 else [given]
        for paired, row in zip(batch.paired, rows, strict=False):
            n = len(paired.sample.token_ids)
            values = _array(row)
            if values.size > n:  # a padded row: the sample's tokens start after its left padding
                start = paired.sample.left_padding
                values = values[start : start + n]
            trainer = np.full(n, np.nan)
            trainer[n - values.size :] = values  # a completion's log-probs end the sequence
            engine = _array(_engine_logprobs(paired))
            keep = np.asarray(paired.sample.trained, dtype=bool) & np.isfinite(engine)
            keep &= np.isfinite(trainer)
            gen.append(engine[keep])
            train.append(trainer[keep])
    metrics = agreement_metrics(
        np.concatenate(gen or [np.zeros(0)]), np.concatenate(train or [np.zeros(0)])
    )
    return {
        "token_mult_prob_error": metrics.get("token_mult_prob_error", math.nan),
        "gen_kl_error": metrics.get("gen_kl_error", math.nan),
        "max_abs_logprob_diff": metrics.get("max_abs_diff", math.nan),
        "logprob_tokens": metrics["n_tokens"],
    }
