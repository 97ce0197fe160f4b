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

from gymcheck.checks.logprobs.measure import agreement_metrics
from gymcheck.checks.training_batch.diagnose import PairedSample, RolloutBatch, diagnose_rollout
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
    gen, train = _flat(engine), _flat(trainer)
    weights = _flat(mask) if mask is not None else [1.0] * len(gen)
    if not len(gen) == len(train) == len(weights):
        raise ValueError(
            f"engine ({len(gen)}), trainer ({len(train)}) and mask ({len(weights)}) log-probs "
            "must have the same number of entries"
        )
    pairs = [
        (g, t)
        for g, t, w in zip(gen, train, weights, strict=True)
        if w and g is not None and t is not None
    ]
    return agreement_metrics([g for g, _ in pairs], [t for _, t in pairs])


def _flat(values: Any) -> list[float | None]:
    values = plain(values)
    while depth(values) > 1:
        values = [x for row in values for x in row]
    return [logprob(x) for x in (values if isinstance(values, list) else [values])]


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
    trainer's log-probs for that sample's tokens, aligned with its sequence (a shorter one,
    e.g. TRL's completion or verl's response log-probs, is aligned to the sequence's end).
    """
    if len(samples) != len(rollouts):
        raise ValueError(f"{len(samples)} samples for {len(rollouts)} rollouts: pass one each")
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
    for i in al.truth_range():
        out[al.to_sample(i)] = truth[i]
    return out


def _trainer_agreement(
    batches: Sequence[RolloutBatch], trainer_logprobs: Sequence[Any]
) -> dict[str, float]:
    gen: list[float] = []
    train: list[float] = []
    for batch, given in zip(batches, trainer_logprobs, strict=True):
        rows = plain(given)
        rows = rows if len(batch.paired) > 1 else [rows]
        for paired, row in zip(batch.paired, rows, strict=False):
            values = _flat(row)
            n = len(paired.sample.token_ids)
            values = ([None] * (n - len(values)) + values)[-n:] if n else []
            engine = _engine_logprobs(paired)
            for i, trained in enumerate(paired.sample.trained):
                g, t = logprob(engine[i]), values[i]
                if trained and g is not None and t is not None:
                    gen.append(g)
                    train.append(t)
    metrics = agreement_metrics(gen, train)
    return {
        "token_mult_prob_error": metrics.get("token_mult_prob_error", math.nan),
        "gen_kl_error": metrics.get("gen_kl_error", math.nan),
        "max_abs_logprob_diff": metrics.get("max_abs_diff", math.nan),
        "logprob_tokens": metrics["n_tokens"],
    }
