"""Token continuity across the turns of a rollout, and the diagnosis of every break.

``detect`` finds where a turn's prompt stops extending the previous prompt + generation,
``diagnose`` names the cause of each break from the table in ``causes``, and ``check`` tallies
them over many rollouts into the ``token_continuity`` result.
"""

from gymcheck.checks.continuity.causes import CAUSES, Cause
from gymcheck.checks.continuity.check import CHECK_ID, ContinuityTally, check_token_continuity
from gymcheck.checks.continuity.detect import find_breaks
from gymcheck.checks.continuity.diagnose import (
    CONTINUITY_BREAK,
    diagnose_breaks,
    diagnose_continuity,
)
from gymcheck.checks.continuity.text import canonical_text, split_reasoning
from gymcheck.reasoning import REASONING_MARKERS

__all__ = [
    "CAUSES",
    "CHECK_ID",
    "CONTINUITY_BREAK",
    "REASONING_MARKERS",
    "Cause",
    "ContinuityTally",
    "canonical_text",
    "check_token_continuity",
    "diagnose_breaks",
    "diagnose_continuity",
    "find_breaks",
    "split_reasoning",
]
