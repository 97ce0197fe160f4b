"""Split a generated assistant text into reasoning, content and Hermes-style tool calls.

The model writes ``<think>\\n...\\n</think>\\n\\n`` then content, then zero or more
``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`` blocks (Qwen2.5 / Hermes).
Calls are returned in OpenAI format, ``arguments`` as a JSON string written with
``json.dumps`` default separators, which the chat template writes back unchanged.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from gymcheck.reasoning import find_reasoning
from gymcheck.reference.chat_template import (
    THINK_CLOSE,
    THINK_OPEN,
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
)

_TOOL_CALL_RE = re.compile(
    re.escape(TOOL_CALL_OPEN) + r"(.*?)(?:" + re.escape(TOOL_CALL_CLOSE) + r"|\Z)", re.DOTALL
)


@dataclass(slots=True)
class ParsedAssistant:
    reasoning: str | None
    content: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def split_leading_think(text: str) -> tuple[str | None, str]:
    """``(reasoning, rest)``: the ``<think>`` block the text starts with, without the newlines
    the template adds; cut off mid-thought (max_tokens), everything is reasoning."""
    block = find_reasoning(text, [(THINK_OPEN, THINK_CLOSE)])
    if block is None or not block.opening or block.head.strip():
        return None, text
    if not block.closing:
        return block.reasoning.strip("\n"), ""
    return block.reasoning.removeprefix("\n").removesuffix("\n"), block.tail.removeprefix("\n\n")


def parse_tool_call(block: str) -> dict[str, Any] | None:
    """One ``<tool_call>`` body as an OpenAI tool call, or ``None`` when it is not valid."""
    try:
        payload = json.loads(block.strip())
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        return None
    arguments = payload.get("arguments", {})
    if isinstance(arguments, str):  # some models write the arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {
            "name": payload["name"],
            "arguments": json.dumps(arguments, ensure_ascii=False),
        },
    }


def parse_assistant_text(text: str, *, parse_tools: bool = True) -> ParsedAssistant:
    """Reasoning, content and tool calls of a generation (its EOS already removed).

    Content is the text before the first ``<tool_call>``, less the one newline the template
    puts between content and a call. A block that does not parse stays in the content, as
    vLLM's Hermes parser leaves it, so nothing the model wrote is lost.
    """
    reasoning, rest = split_leading_think(text)
    if not parse_tools or TOOL_CALL_OPEN not in rest:
        return ParsedAssistant(reasoning, rest)
    calls = []
    for match in _TOOL_CALL_RE.finditer(rest):
        call = parse_tool_call(match.group(1))
        if call is None:
            return ParsedAssistant(reasoning, rest)
        calls.append(call)
    content = rest[: rest.index(TOOL_CALL_OPEN)].removesuffix("\n")
    return ParsedAssistant(reasoning, content, calls)
