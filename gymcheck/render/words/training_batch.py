"""``training_batch``: one line per part of the trainer's samples."""

from __future__ import annotations

from gymcheck.report import Step

_CLAIMS = {
    "format": "Every rollout gave a sample of a known shape",
    "tokens": "Token ids are the rollout's, none cut off",
    "loss_mask": "Loss mask is 1 exactly on the generated tokens",
    "logprobs": "Engine log-probs sit at the tokens they score",
    "reward": "Every sample carries its rollout's reward",
    "failed_rollouts": "Failed rollouts train nothing",
}


def step_text(step: Step) -> str | None:
    if step.name == "processing" and "processing" in step.data:
        shapes = ", ".join(f"{n} {shape}" for shape, n in sorted(step.data["shapes"].items()))
        return f"Samples: {step.data['processing']} ({shapes or 'none'})"
    claim = _CLAIMS.get(step.name)
    if claim is None or "findings" not in step.data:
        return None
    if not step.data["findings"]:
        return claim
    codes = ", ".join(f"{code} ×{n}" for code, n in step.data["codes"].items())
    return f"{claim}: no ({codes})"


def processing_step_text(step: Step) -> str | None:
    """The ``processing`` step that ``gradient_flow`` and ``logprob_agreement`` open with."""
    return f"Samples: {step.data['label']}" if step.name == "processing" else None


# The line that opens the check's section on the console, and what a pass proves
# (`gymcheck checks`).
HEADING = "🧮 Testing the trainer's processed samples..."
PROVES = (
    "the trainer's own processed sample of each rollout holds its token ids in order, a "
    "loss mask that is 1 exactly on generated tokens, aligned engine log-probs and its reward"
)
