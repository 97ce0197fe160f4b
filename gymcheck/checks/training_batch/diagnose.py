"""One rollout's processed samples held against the rollout: every ``batch_*`` finding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gymcheck.checks.training_batch.fixes import fix_for
from gymcheck.checks.training_batch.logprobs import logprob_findings
from gymcheck.checks.training_batch.mask import mask_findings
from gymcheck.checks.training_batch.pair import Alignment, Pair
from gymcheck.checks.training_batch.tokens import align
from gymcheck.checks.training_batch.truth import RolloutTruth, Truth, pair_samples, rollout_truth
from gymcheck.processing.load import ProcessorCall
from gymcheck.processing.shapes import BatchFormatError, Sample, normalize
from gymcheck.report import Finding

_REWARD_TOLERANCE = 1e-6


@dataclass(slots=True)
class PairedSample:
    sample: Sample
    truth: Truth
    alignment: Alignment | None
    """``None`` when the sample's ids do not line up with the truth's."""


@dataclass(slots=True)
class RolloutBatch:
    """A rollout, the samples the user's processing made of it, and what is wrong with them."""

    rollout_index: int
    truth: RolloutTruth
    samples: list[Sample] = field(default_factory=list)
    paired: list[PairedSample] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _format_finding(rollout_index: int, message: str, keys: list[str] | None = None) -> Finding:
    details: dict[str, Any] = {} if keys is None else {"keys": keys}
    return Finding(
        "batch_format",
        message,
        rollout_index=rollout_index,
        fix=fix_for("batch_format", None),
        details=details,
    )


def diagnose_rollout(
    record: Mapping[str, Any],
    rollout_index: int,
    call: ProcessorCall,
    *,
    tokenizer: Any = None,
    batch_format: str = "auto",
) -> RolloutBatch:
    """The ``batch_*`` findings of one rollout's processed output (never raises for bad data)."""
    batch = RolloutBatch(rollout_index, rollout_truth(record, rollout_index))
    failed = batch.truth.failed is not None
    if call.error is not None:
        batch.findings.append(_format_finding(rollout_index, call.error))
        return batch
    if failed and (call.output is None or call.output == []):
        return batch  # a failed rollout dropped from the batch: right
    try:
        batch.samples = normalize(call.output, batch_format)
    except BatchFormatError as exc:
        batch.findings.append(_format_finding(rollout_index, str(exc), exc.keys))
        return batch
    if failed:
        batch.findings.extend(_failed_trained(batch))
        return batch
    pairs = pair_samples(batch.samples, batch.truth)
    if isinstance(pairs, str):
        batch.findings.append(_format_finding(rollout_index, pairs))
        return batch
    for k, (sample, truth) in enumerate(pairs):
        pair = Pair(sample, truth, record, rollout_index, k, tokenizer)
        alignment, found = align(pair)
        if alignment is not None:
            found += mask_findings(pair, alignment) + logprob_findings(pair, alignment)
        found += _reward_findings(pair)
        batch.paired.append(PairedSample(sample, truth, alignment))
        batch.findings.extend(found)
    return batch


def _failed_trained(batch: RolloutBatch) -> list[Finding]:
    found = []
    for k, sample in enumerate(batch.samples):
        if not any(sample.trained):
            continue
        first = sample.trained.index(1)
        found.append(
            Finding(
                "batch_failed_rollout_trained",
                f"rollout {batch.rollout_index} failed ({batch.truth.failed}), but its sample "
                f"trains {sum(sample.trained)} token(s), first at token {first}",
                rollout_index=batch.rollout_index,
                token_index=first,
                fix=fix_for("batch_failed_rollout_trained", sample.shape),
                details={
                    "shape": sample.shape,
                    "sample": k,
                    "trained_tokens": sum(sample.trained),
                    "why_failed": batch.truth.failed,
                },
            )
        )
    return found


def _reward_findings(pair: Pair) -> list[Finding]:
    sample, truth_reward = pair.sample, pair.truth.sample.reward
    if not sample.reward_given or truth_reward is None:
        return []
    if sample.reward is not None and abs(sample.reward - truth_reward) <= _REWARD_TOLERANCE:
        return []
    return [
        pair.finding(
            "batch_reward_mismatch",
            f"the sample's reward is {sample.reward!r}, the rollout's is {truth_reward!r}",
            expected=repr(truth_reward),
            actual=repr(sample.reward),
            sample_reward=sample.reward,
            rollout_reward=truth_reward,
        )
    ]
