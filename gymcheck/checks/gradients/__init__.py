"""``gradient_flow``: processed rollouts give a training signal that trains the generated tokens.

``run`` does the torch work (forward, backward, one optimizer step) and returns measurements;
``mask`` holds the loss mask against the generated tokens; ``check`` judges both.
"""

from gymcheck.checks.gradients.check import (
    CHECK_ID,
    DEFAULT_LEARNING_RATE,
    check_gradient_flow,
    gradient_flow_on_sequences,
)
from gymcheck.checks.gradients.mask import mask_findings

__all__ = [
    "CHECK_ID",
    "DEFAULT_LEARNING_RATE",
    "check_gradient_flow",
    "gradient_flow_on_sequences",
    "mask_findings",
]
