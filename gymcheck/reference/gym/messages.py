"""Responses-API items <-> chat-completions messages, as NeMo Gym's ``vllm_model`` converts them.

The history (Responses-API items) becomes chat messages, each earlier assistant turn carrying
its ``prompt_token_ids``, ``generation_token_ids`` and ``generation_log_probs``, so a NeMo RL
server splices the exact earlier tokens into the new prompt; each completion message becomes
output items (``reasoning``, ``message``, ``function_call``).

Agent-layer faults (``retokenize``, ``strip-reasoning``, ``truncate-history``) change only how
the history is sent back, exactly where real integrations get it wrong.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from gymcheck.reasoning import THINK, find_reasoning
from gymcheck.reference.faults import Fault
from gymcheck.rollout import TOKEN_FIELDS

Item = dict[str, Any]
Message = dict[str, Any]


def chat_tools(tools: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Responses-API tools (flat) as chat-completions tools (nested under ``function``)."""
    converted = []
    for tool in tools or []:
        if "function" in tool:  # already in the chat format
            converted.append(dict(tool))
            continue
        function = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
        converted.append({"type": "function", "function": function})
    return converted


def chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, Mapping) and choice.get("type") == "function" and "name" in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def input_items(params: Mapping[str, Any]) -> list[Item]:
    raw = params.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    return [dict(item) for item in raw or [] if isinstance(item, Mapping)]


def to_chat_messages(
    items: Sequence[Mapping[str, Any]], *, fault: Fault | None = None
) -> list[Message]:
    """The chat messages of a Responses-API history, as Gym's ``vllm_model`` builds them.

    Consecutive model items (``reasoning``, assistant ``message``, ``function_call``) form one
    assistant message; the item carrying token fields ends it (it was a model call's last) and
    lends it those fields.
    """
    messages: list[Message] = []
    assistant: Message | None = None

    def current() -> Message:
        nonlocal assistant
        if assistant is None:
            assistant = {"role": "assistant", "content": ""}
            messages.append(assistant)
        return assistant

    for item in items:
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message" and item.get("role") == "assistant":
            current()["content"] += _text(item.get("content"))
        elif kind == "message":
            assistant = None
            role = "system" if item.get("role") == "developer" else item.get("role")
            messages.append({"role": role, "content": _text(item.get("content"))})
        elif kind == "reasoning":
            text = "".join(_text(item.get(key)) for key in ("summary", "content"))
            message = current()
            message["reasoning_content"] = message.get("reasoning_content", "") + text
        elif kind == "function_call":
            current().setdefault("tool_calls", []).append(
                {
                    "id": item.get("call_id"),
                    "type": "function",
                    "function": {"name": item.get("name"), "arguments": item.get("arguments")},
                }
            )
        elif kind == "function_call_output":
            assistant = None
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "content": output if isinstance(output, str) else json.dumps(output),
                }
            )
        if all(key in item for key in TOKEN_FIELDS):
            message = current()
            for key in TOKEN_FIELDS:
                message[key] = item[key]
            assistant = None
    return _apply_history_fault(messages, fault)


def _apply_history_fault(messages: list[Message], fault: Fault | None) -> list[Message]:
    if fault is Fault.RETOKENIZE:
        # Text only: the server must re-tokenize every earlier turn.
        return [_without(m, TOKEN_FIELDS) for m in messages]
    if fault is Fault.STRIP_REASONING:
        return [_without(m, (*TOKEN_FIELDS, "reasoning_content")) for m in messages]
    if fault is Fault.TRUNCATE_HISTORY:
        # Drop the oldest assistant turn and the tool results that answered it.
        first = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), None)
        if first is None:
            return messages
        end = first + 1
        while end < len(messages) and messages[end]["role"] == "tool":
            end += 1
        return messages[:first] + messages[end:]
    return messages


def _without(message: Message, keys: Sequence[str]) -> Message:
    if message["role"] != "assistant":
        return message
    return {k: v for k, v in message.items() if k not in keys}


def _split_think(content: str) -> tuple[str | None, str]:
    """Reasoning in ``<think>`` tags inside ``content`` (an endpoint without a reasoning parser)."""
    block = find_reasoning(content, [THINK], open_ended=False)
    if block is None or not block.opening:
        return None, content
    return block.reasoning.strip("\n"), (block.head + block.tail).lstrip("\n")


def completion_items(message: Mapping[str, Any]) -> list[Item]:
    """The Responses-API output items of one chat completion message."""
    raw_content = message.get("content")
    content: str = raw_content if isinstance(raw_content, str) else ""
    reasoning: str | None = next(
        (v for k in ("reasoning_content", "reasoning") if isinstance(v := message.get(k), str)),
        None,
    )
    if reasoning is None:
        reasoning, content = _split_think(content)
    items: list[Item] = []
    if reasoning:
        items.append(
            {
                "id": f"rs_{uuid.uuid4().hex}",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": reasoning}],
                "encrypted_content": None,
                "status": "completed",
            }
        )
    if content:
        items.append(
            {
                "id": f"msg_{uuid.uuid4().hex}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": content, "annotations": []}],
            }
        )
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {} if isinstance(call, Mapping) else {}
        call_id = (call.get("id") if isinstance(call, Mapping) else None) or (
            f"call_{uuid.uuid4().hex[:24]}"
        )
        arguments = function.get("arguments")
        items.append(
            {
                "id": call_id,
                "call_id": call_id,
                "type": "function_call",
                "name": function.get("name"),
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                "status": "completed",
            }
        )
    return items
