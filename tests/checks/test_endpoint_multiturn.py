"""The ``multi_turn`` probe names a break exactly as ``token_continuity`` does, on real Qwen3 ids.

The evidence is the case seen against stock vLLM: turn 1 generated
``<tool_call>{"name": "get_weather", …}</tool_call>``, and turn 2's prompt holds the template's
``<tool_call>\\n{"name": "get_weather", …}\\n</tool_call>`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from rollout_builders import TOOLS, encode, first_messages, make_record, render, tool_output

from gymcheck.checks.continuity import check_token_continuity
from gymcheck.checks.endpoint.known_turn import (
    KNOWN_ARGUMENTS,
    ODD_SEPARATORS,
    known_turn,
    respaced,
)
from gymcheck.checks.endpoint.multiturn import diagnose_turn2
from gymcheck.checks.endpoint.probe import Completion
from gymcheck.tokeninfo import TokenInfo

ARGUMENTS = {"city": "nyc"}
TOOL_CALL = {
    "id": "call_0",
    "type": "function",
    "function": {"name": "get_weather", "arguments": json.dumps(ARGUMENTS)},
}


@pytest.fixture(scope="module")
def im_end(qwen3_tokenizer: Any) -> int:
    return int(qwen3_tokenizer.convert_tokens_to_ids("<|im_end|>"))


def turn1(tokenizer: Any, generated: list[int]) -> Completion:
    prompt = render(tokenizer, first_messages())
    message = {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]}
    return Completion(
        request={"model": "qwen3", "messages": first_messages(), "tools": TOOLS},
        body={"choices": [{"message": message, "finish_reason": "tool_calls"}]},
        seconds=0.0,
        info=TokenInfo("return_token_ids", prompt, generated, [-0.5] * len(generated)),
        prompt_ids=prompt,
    )


def rerendered_turn2(tokenizer: Any, im_end: int, call: dict[str, Any]) -> Completion:
    """What a server that re-renders history answers: the template's render of ``call``."""
    parsed = {
        **call,
        "function": {**call["function"], "arguments": json.loads(call["function"]["arguments"])},
    }
    messages = [
        *first_messages(),
        {"role": "assistant", "content": "", "tool_calls": [parsed]},
        {"role": "tool", "tool_call_id": call["id"], "content": tool_output(0)},
    ]
    prompt = render(tokenizer, messages)
    generated = [*encode(tokenizer, "It is 10 degrees."), im_end]
    return Completion(
        request={},
        body={"choices": [{"message": {"role": "assistant", "content": "It is 10 degrees."}}]},
        seconds=0.0,
        info=TokenInfo("return_token_ids", prompt, generated, [-0.5] * len(generated)),
        prompt_ids=prompt,
    )


@pytest.fixture(scope="module")
def issue_evidence(qwen3_tokenizer: Any, im_end: int) -> Iterator[tuple[Completion, Completion]]:
    call = json.dumps({"name": "get_weather", "arguments": ARGUMENTS})
    generated = [*encode(qwen3_tokenizer, f"<tool_call>{call}</tool_call>"), im_end]
    yield turn1(qwen3_tokenizer, generated), rerendered_turn2(qwen3_tokenizer, im_end, TOOL_CALL)


def test_the_probe_and_token_continuity_both_call_it_rerendered(
    qwen3_tokenizer: Any, issue_evidence: tuple[Completion, Completion]
) -> None:
    first, second = issue_evidence
    probed = diagnose_turn2(qwen3_tokenizer, first, second, {})
    assert probed is not None
    # The break the issue showed, decoded on both sides.
    assert '<tool_call>{"name": "get' in (probed.expected or "")
    assert '<tool_call>\n{"name": "get' in (probed.actual or "")

    assert first.info is not None and second.info is not None
    gym_record = make_record(
        [
            (first.prompt_ids or [], first.info.generation_token_ids),
            (second.prompt_ids or [], second.info.generation_token_ids),
        ]
    )
    checked = check_token_continuity([gym_record], tokenizer=qwen3_tokenizer)
    [finding] = checked.findings
    assert (probed.cause, probed.token_index) == (finding.cause, finding.token_index)
    assert probed.cause == "rerendered"


def test_the_known_turn_is_a_fixed_call_rendered_by_the_template_and_respaced(
    qwen3_tokenizer: Any, issue_evidence: tuple[Completion, Completion], im_end: int
) -> None:
    sampled, _ = issue_evidence
    known = known_turn(qwen3_tokenizer, sampled)
    assert known is not None and known.info is not None
    [call] = known.message["tool_calls"]
    assert call["id"] == TOOL_CALL["id"]
    assert json.loads(call["function"]["arguments"]) == KNOWN_ARGUMENTS
    ids = known.info.generation_token_ids
    assert ids[-1] == im_end and ids.count(im_end) == 1
    spaced = json.dumps(
        {"name": "get_weather", "arguments": KNOWN_ARGUMENTS}, separators=ODD_SEPARATORS
    )
    assert qwen3_tokenizer.decode(ids) == f"<tool_call>\n{spaced}\n</tool_call><|im_end|>"

    # A re-rendering server writes the template's spacing over it: rerendered, every time.
    second = rerendered_turn2(qwen3_tokenizer, im_end, call)
    probed = diagnose_turn2(qwen3_tokenizer, known, second, {})
    assert probed is not None and probed.cause == "rerendered"
    # A splicing server keeps the ids: no break.
    assert second.info is not None and second.prompt_ids is not None
    after_turn1 = second.prompt_ids[
        second.prompt_ids.index(im_end, len(known.prompt_ids or [])) + 1 :
    ]
    spliced = Completion(
        request={},
        body=second.body,
        seconds=0.0,
        info=second.info,
        prompt_ids=[*(known.prompt_ids or []), *ids, *after_turn1],
    )
    assert diagnose_turn2(qwen3_tokenizer, known, spliced, {}) is None


def test_respaced_rewrites_only_json_objects() -> None:
    assert respaced('<tool_call>\n{"a": 1, "b": [2, {"c": 3}]}\n</tool_call> {not json') == (
        '<tool_call>\n{"a" :  1 ,  "b" :  [2 ,  {"c" :  3}]}\n</tool_call> {not json'
    )


def test_no_chat_template_means_no_known_generation(
    gpt2_tokenizer: Any, issue_evidence: tuple[Completion, Completion]
) -> None:
    first, _ = issue_evidence
    assert known_turn(gpt2_tokenizer, first) is None
    assert known_turn(None, first) is None
