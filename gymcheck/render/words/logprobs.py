"""``logprob_agreement``: the two agreement metrics against their limits."""

from __future__ import annotations

from gymcheck.render.words.training_batch import processing_step_text
from gymcheck.report import Step


def step_text(step: Step) -> str | None:
    d = step.data
    if step.name == "processing":
        return processing_step_text(step)
    if step.name == "token_mult_prob_error":
        return (
            f"token_mult_prob_error {d['value']:.4f} (limit {d['limit']:g}) "
            f"over {d['tokens']} tokens"
        )
    if step.name == "gen_kl_error":
        return (
            f"gen_kl_error {d['value']:.2e} (limit {d['limit']:g}), max |Δ| {d['max_abs_diff']:.3g}"
        )
    return None


# The line that opens the check's section on the console, and what a pass proves
# (`gymcheck checks`).
HEADING = "🎯 Testing train/inference log-prob agreement..."
PROVES = (
    "the training model's log-probs for the generated tokens match generation_log_probs "
    "(token_mult_prob_error <= 1.05, gen_kl_error <= 1e-3), or the cause is named"
)
