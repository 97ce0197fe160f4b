"""Hermes tool-call parsing of generated text, and the constrained-decoding grammar."""

from __future__ import annotations

import json

import pytest

from gymcheck.reference.constrained import call_stack, feed
from gymcheck.reference.toolcalls import parse_assistant_text, split_leading_think

CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def test_reasoning_then_one_call() -> None:
    parsed = parse_assistant_text(f"<think>\nLook it up.\n</think>\n\n{CALL}")
    assert parsed.reasoning == "Look it up."
    assert parsed.content == ""
    assert len(parsed.tool_calls) == 1
    call = parsed.tool_calls[0]
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def test_content_before_calls_and_multiple_calls() -> None:
    second = '<tool_call>\n{"name": "add_numbers", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    parsed = parse_assistant_text(f"<think>\nx\n</think>\n\nLet me check.\n{CALL}\n{second}")
    assert parsed.content == "Let me check."
    assert [c["function"]["name"] for c in parsed.tool_calls] == ["get_weather", "add_numbers"]
    assert json.loads(parsed.tool_calls[1]["function"]["arguments"]) == {"a": 1, "b": 2}


def test_odd_whitespace_is_parsed_and_normalized() -> None:
    text = (
        '<tool_call>\n  {"name":"get_weather",\n "arguments" :{ "city"\n:  "nyc" } }  \n'
        "</tool_call>"
    )
    parsed = parse_assistant_text(text)
    assert parsed.reasoning is None
    assert parsed.tool_calls[0]["function"]["arguments"] == '{"city": "nyc"}'


def test_arguments_given_as_a_json_string() -> None:
    text = '<tool_call>\n{"name": "f", "arguments": "{\\"x\\": 1}"}\n</tool_call>'
    assert parse_assistant_text(text).tool_calls[0]["function"]["arguments"] == '{"x": 1}'


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "get_weather", "arguments": {"city": "Paris"}',  # unclosed brace
        '{"arguments": {"city": "Paris"}}',  # no name
        '{"name": "f", "arguments": [1, 2]}',  # arguments not an object
        "not json at all",
    ],
)
def test_invalid_calls_stay_in_the_content(body: str) -> None:
    text = f"<think>\nr\n</think>\n\nSure.\n<tool_call>\n{body}\n</tool_call>"
    parsed = parse_assistant_text(text)
    assert parsed.tool_calls == []
    assert parsed.content == f"Sure.\n<tool_call>\n{body}\n</tool_call>"


def test_unterminated_call_is_not_a_call() -> None:
    parsed = parse_assistant_text('<tool_call>\n{"name": "get_weather", "argum')
    assert parsed.tool_calls == []


def test_parse_tools_off_keeps_the_text() -> None:
    parsed = parse_assistant_text(CALL, parse_tools=False)
    assert parsed.tool_calls == [] and parsed.content == CALL


def test_reasoning_cut_off_by_max_tokens() -> None:
    assert split_leading_think("<think>\nstill thinking") == ("still thinking", "")
    assert split_leading_think("plain answer") == (None, "plain answer")


def _grammar(text: str) -> str:
    stack = call_stack()
    for ch in text:
        next_stack = feed(stack, ch, ("get_weather", "add_numbers"))
        if next_stack is None:
            return "reject"
        stack = next_stack
    return "complete" if stack == () else "prefix"


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ('\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n', "complete"),
        ('\n{"name": "add_numbers", "arguments": {"a": -2.5, "b": [1, true, null]}}\n', "complete"),
        ('\n{"name": "add_numbers", "arguments": {}}\n', "complete"),
        ('\n{"name": "get_w', "prefix"),
        ('\n{"name": "unknown_tool"', "reject"),
        ('\n{"name": "add_numbers", "arguments": {"a":1}}\n', "reject"),  # json.dumps layout
        ('\n{"name": "add_numbers", "arguments": {"a": 01}}\n', "reject"),
        ('\n{"name": "add_numbers", "arguments": [1]}\n', "reject"),
        ('\n{"name": "get_weather", "arguments": {"city": "a\\"b"}}\n', "reject"),
    ],
)
def test_constrained_grammar(text: str, verdict: str) -> None:
    assert _grammar(text) == verdict
