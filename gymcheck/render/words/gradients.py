"""``gradient_flow``: the mask, the loss, the gradients and the optimizer step."""

from __future__ import annotations

from gymcheck.render.words.training_batch import processing_step_text
from gymcheck.report import Step

_LOSS_PROBLEMS = {
    "no_trainable_token": "No sequence has a trainable token",
    "not_finite": "Loss is not finite",
    "zero": "Loss is exactly zero",
}


def step_text(step: Step) -> str | None:
    d = step.data
    if step.name == "processing":
        return processing_step_text(step)
    if step.name == "parameters":
        return "No trainable parameters"
    if step.name == "loss_mask":
        if d["causes"]:
            return f"Loss mask is wrong: {', '.join(d['causes'])}"
        return f"Loss mask is 1 exactly on the {d['generated']} generated tokens"
    if step.name == "loss":
        if "problem" in d:
            return _LOSS_PROBLEMS[d["problem"]]
        return f"Loss over the full sequence is finite ({d['loss']:.4f})"
    if step.name == "logit_gradients":
        if d["leaking_sequences"]:
            leaking = d["leaking_sequences"]
            return f"Gradient reaches {leaking} sequence(s) outside the generated tokens"
        return "Logit gradients are exactly zero where the next token was not generated"
    if step.name == "parameter_gradients":
        if d["nonfinite"] or d["missing"]:
            return (
                f"{d['nonfinite']} non-finite, {d['missing']} missing of {d['parameters']} "
                "parameter gradients"
            )
        return (
            f"All {d['parameters']} trainable parameters get finite, non-zero gradients "
            f"(norm {d['norm']:.3g})"
        )
    if step.name == "update":
        if d.get("problem") == "no_gradient":
            return "No usable gradient to step along"
        if step.status.ok:
            return (
                "One optimizer step moves the generated tokens' log-likelihood with the "
                f"advantages (+{d['gain']:.3g} at lr {d['lr']:g})"
            )
        return "Optimizer step moves the wrong way"
    return None


# The line that opens the check's section on the console, and what a pass proves
# (`gymcheck checks`).
HEADING = "📈 Testing gradient flow..."
PROVES = (
    "a rollout's loss mask is 1 exactly on generated tokens; forward/backward gives a "
    "finite, non-zero loss and gradients, none outside the mask; one step raises the "
    "trainable tokens' likelihood"
)
