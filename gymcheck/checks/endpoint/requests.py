"""The request bodies the probes send: Gym's token parameters on small, fixed conversations."""

from __future__ import annotations

from typing import Any

from gymcheck.tokeninfo import GYM_TOKEN_REQUEST_PARAMS

CHAT_MAX_TOKENS = 16
# A Hermes tool call from a small or untrained model needs room to close its JSON.
TOOL_MAX_TOKENS = 512
TURN2_MAX_TOKENS = 8
BURST_MAX_TOKENS = 8

CHAT_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Say hello in one short sentence."},
]

TOOL_MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."},
]

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
        },
    },
}
TOOLS: list[dict[str, Any]] = [WEATHER_TOOL]
TOOL_RESULT = "Sunny, 21 degrees Celsius."

# Invalid on purpose: ``messages`` must be a list of message objects.
BAD_REQUEST_BODY_MESSAGES = "this is not a list of messages"


def chat_body(model: str, *, max_tokens: int = CHAT_MAX_TOKENS, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": CHAT_MESSAGES,
        "max_tokens": max_tokens,
        **GYM_TOKEN_REQUEST_PARAMS,
        **extra,
    }


def tool_body(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": TOOL_MESSAGES,
        "tools": TOOLS,
        "tool_choice": "required",
        "max_tokens": TOOL_MAX_TOKENS,
        **GYM_TOKEN_REQUEST_PARAMS,
    }


def bad_body(model: str) -> dict[str, Any]:
    return {"model": model, "messages": BAD_REQUEST_BODY_MESSAGES, "max_tokens": 4}


def tool_results(calls: list[Any]) -> list[dict[str, Any]]:
    """The tool messages that answer ``calls`` in turn 2."""
    return [
        {"role": "tool", "tool_call_id": call.get("id", f"call_{i}"), "content": TOOL_RESULT}
        for i, call in enumerate(calls)
    ]
