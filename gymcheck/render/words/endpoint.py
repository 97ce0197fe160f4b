"""``http_endpoint``: each sub-check's label, then what it measured."""

from __future__ import annotations

from gymcheck.report import Step

LABELS: dict[str, str] = {
    "models": "Models",
    "chat": "Chat completion",
    "tool_calls": "Tool calls",
    "token_info": "Token information",
    "counts": "Token counts",
    "max_tokens": "max_tokens",
    "tokenize": "/tokenize",
    "decode": "Decode",
    "multi_turn": "Multi-turn history",
    "top_logprobs_null": "top_logprobs: null",
    "bad_request": "Bad request",
    "burst": "Burst",
}


def step_text(step: Step) -> str | None:
    label = LABELS.get(step.name, step.name)
    detail = step.data.get("detail")
    return f"{label}: {detail}" if detail else label


# The line that opens the check's section on the console, and what a pass proves
# (`gymcheck checks`).
HEADING = "📡 Testing HTTP endpoint..."
PROVES = (
    "the server lists a model, answers chat completions with token ids, logprobs and "
    "counts in a form Gym accepts, keeps multi-turn history, handles tool calls, and answers "
    "a bad request with a 4xx"
)
