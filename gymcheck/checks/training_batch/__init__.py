"""``training_batch``: the trainer's own processed samples against the rollouts they came from.

``truth`` builds what a faithful sample of a rollout holds, ``tokens``, ``mask`` and
``logprobs`` diagnose how a sample differs from it, ``diagnose`` runs them over one rollout,
and ``check`` tallies every rollout into the result.
"""

from gymcheck.checks.training_batch.check import (
    CHECK_ID,
    check_training_batch,
    process_batch,
    training_batch_result,
)
from gymcheck.checks.training_batch.diagnose import PairedSample, RolloutBatch, diagnose_rollout
from gymcheck.checks.training_batch.truth import RolloutTruth, Truth, rollout_truth

__all__ = [
    "CHECK_ID",
    "PairedSample",
    "RolloutBatch",
    "RolloutTruth",
    "Truth",
    "check_training_batch",
    "diagnose_rollout",
    "process_batch",
    "rollout_truth",
    "training_batch_result",
]
