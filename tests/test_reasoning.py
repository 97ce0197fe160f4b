"""The one locator of reasoning blocks, and the policies its three callers apply."""

from __future__ import annotations

from gymcheck.checks.continuity import split_reasoning
from gymcheck.reasoning import THINK, ReasoningBlock, find_reasoning
from gymcheck.reference.gym.messages import completion_items
from gymcheck.reference.toolcalls import split_leading_think


def test_a_closed_block_keeps_every_part() -> None:
    assert find_reasoning("a<think>R</think>b") == ReasoningBlock(
        "a", "<think>", "R", "</think>", "b"
    )


def test_a_block_opened_in_the_prompt_or_cut_off() -> None:
    assert find_reasoning("R</think>b") == ReasoningBlock("", "", "R", "</think>", "b")
    assert find_reasoning("<think>R") == ReasoningBlock("", "<think>", "R", "", "")
    assert find_reasoning("<think>R", open_ended=False) is None
    assert find_reasoning("[THINK]R[/THINK]x").closing == "[/THINK]"  # type: ignore[union-attr]
    assert find_reasoning("plain", [THINK]) is None


def test_the_three_policies_on_one_generation() -> None:
    text = "<think>\nR\n</think>\n\nA"
    assert split_leading_think(text) == ("R", "A")
    assert split_reasoning(text) == ("\nR\n", "\n\nA", "</think>")
    reasoning, message = completion_items({"content": text})
    assert reasoning["summary"][0]["text"] == "R"
    assert message["content"][0]["text"] == "A"
    # Cut off mid-thought: the server's parser keeps it as reasoning, the agent as content.
    assert split_leading_think("<think>\nR") == ("R", "")
    assert [i["type"] for i in completion_items({"content": "<think>\nR"})] == ["message"]
