"""``logprob_agreement``: the trainer's log-probs match the inference engine's, token by token.

``measure`` pairs the engine's and the trainer's log-prob at every generated token, ``diagnose``
names the cause of a disagreement, and ``check`` turns both into the result.
"""

from gymcheck.checks.logprobs.check import (
    CHECK_ID,
    agreement_result,
    check_logprob_agreement,
    worst_tokens,
)
from gymcheck.checks.logprobs.diagnose import (
    Diagnosis,
    constrained_evidence,
    diagnose,
    fit_temperature,
    fit_truncation,
)
from gymcheck.checks.logprobs.measure import (
    Agreement,
    agreement_metrics,
    measure_logprob_agreement,
)

__all__ = [
    "CHECK_ID",
    "Agreement",
    "Diagnosis",
    "agreement_metrics",
    "agreement_result",
    "check_logprob_agreement",
    "constrained_evidence",
    "diagnose",
    "fit_temperature",
    "fit_truncation",
    "measure_logprob_agreement",
    "worst_tokens",
]
