"""``token_continuity``: one line over all turns."""

from __future__ import annotations

from gymcheck.report import Step


def step_text(step: Step) -> str | None:
    d = step.data
    if step.name != "continuity":
        return None
    if not d.get("breaks"):
        return f"Token continuity validated across {d['turns']} turns"
    causes = ", ".join(f"{cause} ×{n}" for cause, n in d["causes"].items())
    return f"Token continuity broken at {d['breaks']} of {d['turns']} turns ({causes})"


# The line that opens the check's section on the console, and what a pass proves
# (`gymcheck checks`).
HEADING = "🔗 Testing token continuity..."
PROVES = (
    "every trainable item's prompt_token_ids extend the previous item's prompt + "
    "generation, and every break is explained (the cause, the turn, the token)"
)
