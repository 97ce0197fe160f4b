"""The user's processed samples as ``TrainingSample``s, for ``gradient_flow`` and
``logprob_agreement`` to train and score what the trainer really trains.

The sequence (ids, mask, stored log-probs) is the user's. For ``gradient_flow`` the spans are
where the generated tokens really are (from the rollout), so a wrong mask shows as gradient on
the wrong tokens. For ``logprob_agreement`` the spans are where the user's mask trains, so a
wrong mask is measured at the wrong positions, as the trainer would.
"""

from __future__ import annotations

from collections.abc import Sequence

from gymcheck.checks.training_batch.diagnose import PairedSample, RolloutBatch
from gymcheck.report import CheckResult, Status, Step
from gymcheck.rollout import TrainingSequence
from gymcheck.training import GenerationSpan, TrainingSample


def _sequence(paired: PairedSample, *, rollout_logprobs: bool) -> TrainingSequence:
    sample, al = paired.sample, paired.alignment
    stored = sample.logprobs
    if stored is None and rollout_logprobs and al is not None:
        # The shape stores no engine log-probs (HF labels): the trainer would take the rollout's.
        truth = paired.truth.sample.sequence.generation_logprobs
        stored = [None] * len(sample.token_ids)
        for i in al.truth_range():
            stored[al.to_sample(i)] = truth[i]
    return TrainingSequence(
        list(sample.token_ids),
        list(sample.trained),
        list(stored) if stored is not None else [None] * len(sample.token_ids),
    )


def _training_sample(
    batch: RolloutBatch,
    paired: PairedSample,
    spans: Sequence[GenerationSpan],
    *,
    rollout_logprobs: bool,
) -> TrainingSample:
    """The user's sample as a ``TrainingSample``, with its reward (the rollout's when the
    sample gives none) and these ``spans``."""
    reward = paired.sample.reward if paired.sample.reward_given else paired.truth.sample.reward
    return TrainingSample(
        batch.rollout_index,
        _sequence(paired, rollout_logprobs=rollout_logprobs),
        tuple(spans),
        reward,
        len(batch.paired) > 1,
    )


def gradient_samples(batches: Sequence[RolloutBatch]) -> tuple[list[TrainingSample], list[str]]:
    """The user's samples with the rollout's generated spans; notes on those left out."""
    samples, notes = [], []
    for batch in batches:
        for paired in batch.paired:
            al = paired.alignment
            if al is None:
                notes.append(
                    f"rollout {batch.rollout_index}: its sample's token ids are not the "
                    "rollout's (training_batch), so it is not trained here"
                )
                continue
            spans = []
            for span in paired.truth.sample.spans:
                start = max(span.start, al.truth_start)
                end = min(span.end, al.truth_start + al.length)
                if start < end:
                    spans.append(GenerationSpan(span.turn, al.to_sample(start), al.to_sample(end)))
            samples.append(_training_sample(batch, paired, spans, rollout_logprobs=False))
    return samples, notes


def _trained_spans(paired: PairedSample) -> tuple[GenerationSpan, ...]:
    """Runs of the user's mask, each named by the turn of the rollout it lies in or follows."""
    trained = paired.sample.trained
    al = paired.alignment
    turns = paired.truth.sample.spans
    spans = []
    start = None
    for i, flag in enumerate([*trained, 0]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            truth_index = start - al.sample_start + al.truth_start if al is not None else start
            turn = next((s.turn for s in reversed(turns) if s.start <= truth_index), 1)
            spans.append(GenerationSpan(turn, start, i))
            start = None
    return tuple(spans)


def agreement_samples(batches: Sequence[RolloutBatch]) -> list[list[TrainingSample]]:
    """Per rollout, the user's samples with the spans the user's mask trains."""
    return [
        [
            _training_sample(batch, paired, _trained_spans(paired), rollout_logprobs=True)
            for paired in batch.paired
        ]
        for batch in batches
    ]


OWN_PROCESSING = "gymcheck's own processing (message_log from the rollout's token ids)"


def name_processing(result: CheckResult, label: str) -> CheckResult:
    """Name the processing that was trained or scored, in the details and the console."""
    result.details["processing"] = label
    result.steps.insert(0, Step("processing", Status.PASS, data={"label": label}))
    return result
