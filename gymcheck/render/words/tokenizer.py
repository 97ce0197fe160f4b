"""``token_roundtrip``: the battery, the decode hazards and each chat-template property."""

from __future__ import annotations

from gymcheck.report import Step


def step_text(step: Step) -> str | None:
    d = step.data
    if step.name == "roundtrip":
        if not d["unstable"]:
            return f"All {d['strings']} round-trips stable"
        listed = ", ".join(f"{c} ×{n}" for c, n in d["categories"].items())
        return f"{d['unstable']} of {d['strings']} round-trips unstable ({listed})"
    if step.name == "decode_hazards":
        if not d["hazards"]:
            return "decode hazards: no id decodes to U+FFFD alone"
        return (
            f"decode hazards: {d['hazards']:,} of {d['vocab_size']:,} ids decode to U+FFFD alone "
            "(byte pieces); harmless when whole sequences are decoded, wrong when text is built "
            "one token at a time"
        )
    if step.name == "chat_template":
        *others, last = d["skipped"]
        return f"no chat template: {', '.join(others)} and {last} skipped"
    if "detail" in d:
        return f"{step.name}: {d['detail']}"
    return None


# The line that opens the check's section on the console, and what a pass proves
# (`gymcheck checks`).
HEADING = "🔄 Testing token round-trips..."
PROVES = (
    "encode → decode → re-encode gives the same ids over a battery of tricky strings, and "
    "the chat template is append-only, its generation prompt a prefix, and keeps reasoning"
)
