"""The conversation the chat-template properties render: system, user, an assistant tool call,
a tool result, an assistant answer with reasoning, a user follow-up."""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]

REASONING = "The tool reports a clear sky at 18 C, so the answer is sunny."

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]

CONVERSATION: list[Message] = [
    {"role": "system", "content": "You are a helpful assistant. Use tools when they help."},
    {"role": "user", "content": "What is the weather in Paris? Answer in one word."},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {
        "role": "tool",
        "tool_call_id": "call_1",
        "name": "get_weather",
        "content": '{"temp_c": 18, "sky": "clear"}',
    },
    {"role": "assistant", "content": "Sunny.", "reasoning_content": REASONING},
    {"role": "user", "content": "And tomorrow?"},
]

# Lookalikes of other families' markers, typed by a user; the tokenizer's own are added too.
MARKER_LOOKALIKES = ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|eot_id|>", "</s>")
