"""``rollout_collection``: the guide's three lines for one rollout, their aggregate for many."""

from __future__ import annotations

from gymcheck.report import Step


def step_text(step: Step) -> str | None:
    d = step.data
    rollouts = d.get("rollouts", 0)
    if step.name == "rollouts":
        return "no rollouts: nothing was collected"
    if step.name == "findings":
        codes = ", ".join(f"{code} ×{n}" for code, n in d["codes"].items())
        return f"{d['bad']} of {rollouts} rollouts have findings ({codes})"
    if step.name == "collected":
        if rollouts == 1 and d["clean"] == 1:
            return "Rollout collected successfully"
        return f"{d['clean']} of {rollouts} rollouts collected successfully"
    if step.name == "reward":
        if "min" not in d:
            return f"Reward: {d['mean']}"
        return f"Reward: mean {d['mean']:.3g} (min {d['min']:g}, max {d['max']:g})"
    if step.name == "trainable_outputs":
        if "per_rollout" not in d:
            return f"Trainable outputs: {d['count']}"
        return f"Trainable outputs: {d['count']} ({d['per_rollout']:.2g} per rollout)"
    return None


# The line that opens the check's section on the console, and what a pass proves
# (`gymcheck checks`).
HEADING = "📦 Testing rollout collection..."
PROVES = (
    "Gym returns rollouts, each with a response.output, a finite reward in range, and an "
    "output item with generated token ids (and every record-level field well formed)"
)
