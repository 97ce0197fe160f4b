"""The rollout side of ``training_batch``: what a faithful sample of a rollout holds.

The truth is the rollout itself (DESIGN section 3b): the first prompt, then for each model call
its generated ids (trained) and what the next call's prompt added (not trained). A rollout that
breaks continuity has one truth per turn: that turn's prompt + its generation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gymcheck.errors import GymcheckError
from gymcheck.rollout import Turn, trainable_turns
from gymcheck.training import TrainingSample, record_reward, samples_from_record, turn_sample


@dataclass(frozen=True, slots=True)
class Truth:
    """One sequence a faithful sample must equal, with the turns that built it."""

    sample: TrainingSample
    turns: tuple[Turn, ...]
    """The turns, in order, whose last one ends the sequence (for the continuity diagnosis)."""

    @property
    def token_ids(self) -> list[int]:
        return self.sample.sequence.token_ids

    @property
    def first_generated(self) -> int:
        return self.sample.spans[0].start if self.sample.spans else len(self.token_ids)


@dataclass(frozen=True, slots=True)
class RolloutTruth:
    rollout_index: int
    whole: Truth | None
    """The whole episode as one sequence, when its turns are contiguous."""
    turns: tuple[Turn, ...]
    reward: float | None
    failed: str | None = None
    """Why the rollout has nothing to train (no generated tokens, malformed), else ``None``."""

    @property
    def contiguous(self) -> bool:
        return self.whole is not None

    def per_turn(self) -> list[Truth]:
        """Each turn that generated on its own: its prompt (not trained) + its generation."""
        return [
            Truth(
                turn_sample(t, self.rollout_index, self.reward),
                (
                    Turn(
                        1,
                        t.output_index,
                        t.item_type,
                        t.prompt_token_ids,
                        t.generation_token_ids,
                        t.generation_log_probs,
                    ),
                ),
            )
            for t in self.turns
            if t.generation_token_ids
        ]


def rollout_truth(record: Mapping[str, Any], rollout_index: int) -> RolloutTruth:
    reward = record_reward(record)
    try:
        turns = tuple(trainable_turns(record))
        samples = samples_from_record(record, rollout_index)
    except (GymcheckError, TypeError, ValueError) as exc:
        return RolloutTruth(rollout_index, None, (), reward, failed=str(exc))
    if not samples:
        return RolloutTruth(rollout_index, None, turns, reward, failed="no generated tokens")
    whole = None if samples[0].per_turn else Truth(samples[0], turns)
    return RolloutTruth(rollout_index, whole, turns, reward)


def pair_samples(samples: Sequence[Any], truth: RolloutTruth) -> list[tuple[Any, Truth]] | str:
    """Each sample with the truth it must equal, or why they cannot be paired.

    One sample is the whole episode (for a rollout that breaks continuity: its last turn, the
    history the engine last saw); one sample per turn is each turn on its own.
    """
    if len(samples) == 1 and truth.whole is not None:
        return [(samples[0], truth.whole)]
    per_turn = truth.per_turn()
    if len(samples) == 1:
        return [(samples[0], per_turn[-1])]
    if len(samples) == len(per_turn):
        return list(zip(samples, per_turn, strict=True))
    return (
        f"the processor returned {len(samples)} samples for a rollout of {len(per_turn)} "
        "turn(s): expected one sample, or one per turn"
    )
