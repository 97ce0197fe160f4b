"""Where a model's reasoning lies in a text: the one locator of reasoning blocks.

The reference server's parser, the agent (for an endpoint without a reasoning parser) and the
continuity diagnosis each apply their own policy to what ``find_reasoning`` finds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Markers = tuple[str, str]

THINK: Markers = ("<think>", "</think>")

# Reasoning delimiters that chat templates put around a model's thinking.
REASONING_MARKERS: tuple[Markers, ...] = (
    THINK,
    ("[THINK]", "[/THINK]"),
    ("<reasoning>", "</reasoning>"),
)


@dataclass(frozen=True, slots=True)
class ReasoningBlock:
    """``text == head + opening + reasoning + closing + tail``.

    ``opening`` is ``""`` when the block was opened before the text began (a template that puts
    ``<think>`` in the prompt); ``closing`` is ``""`` when the text ends inside it (cut off).
    """

    head: str
    opening: str
    reasoning: str
    closing: str
    tail: str


def find_reasoning(
    text: str, markers: Sequence[Markers] = REASONING_MARKERS, *, open_ended: bool = True
) -> ReasoningBlock | None:
    """The first block of the first marker pair found in ``text``, or ``None``.

    A block runs from its opening marker (the last one before the closing marker, or the start
    of the text when there is none) to its closing marker; with ``open_ended``, an opening
    marker without a closing one starts a block that runs to the end of the text.
    """
    for opening, closing in markers:
        close = text.find(closing)
        if close >= 0:
            tail = text[close + len(closing) :]
            start = text.rfind(opening, 0, close)
            if start < 0:
                return ReasoningBlock("", "", text[:close], closing, tail)
            body = text[start + len(opening) : close]
            return ReasoningBlock(text[:start], opening, body, closing, tail)
        start = text.find(opening) if open_ended else -1
        if start >= 0:
            return ReasoningBlock(text[:start], opening, text[start + len(opening) :], "", "")
    return None
