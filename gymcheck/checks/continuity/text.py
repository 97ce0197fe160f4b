"""Decoding ids and comparing texts, for the diagnosis of a continuity break."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gymcheck.checks.token_window import WINDOW_AFTER, WINDOW_BEFORE
from gymcheck.reasoning import REASONING_MARKERS, find_reasoning


class Decoder:
    """The tokenizer's view needed for a diagnosis: decode, and which ids are template tokens."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        added = getattr(tokenizer, "added_tokens_decoder", None) or {}
        self.template_ids = {int(i) for i in added}

    def __call__(self, ids: Sequence[int]) -> str:
        return str(
            self.tokenizer.decode(
                list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
        )


def window(ids: Sequence[int], index: int, text: Decoder | None) -> str:
    low, high = max(0, index - WINDOW_BEFORE), min(len(ids), index + WINDOW_AFTER)
    if text is None:
        return f"ids[{low}:{high}] = {list(ids[low:high])}"
    body = text(ids[low:high])
    return ("…" if low else "") + body + ("…" if high < len(ids) else "")


# --- text comparison helpers ----------------------------------------------------------------

_JSON = json.JSONDecoder()


def canonical_text(text: str) -> str:
    """``text`` with every JSON value in canonical form and all other whitespace removed.

    Two renderings of the same content (a tool call re-serialized, whitespace normalized) give
    the same canonical text.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in "{[":
            try:
                value, end = _JSON.raw_decode(text, i)
            except ValueError:
                pass
            else:
                out.append(
                    json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                )
                i = end
                continue
        if not char.isspace():
            out.append(char)
        i += 1
    return "".join(out)


def split_reasoning(
    generated: str, reasoning_texts: Sequence[str] = ()
) -> tuple[str, str, str | None]:
    """``(reasoning, rest, closing marker)`` of a generation's text.

    ``reasoning`` is ``""`` when there is none; the marker is ``None`` when the reasoning was
    found through a ``reasoning`` item rather than delimiters.

    The reasoning is what lies between a template's reasoning delimiters (the opening one may
    be in the prompt, as with templates that start the generation inside ``<think>``), or a
    ``reasoning`` item's text that the generation holds verbatim.
    """
    block = find_reasoning(generated, REASONING_MARKERS, open_ended=False)
    if block is not None:
        return block.reasoning, block.head + block.tail, block.closing
    for reasoning in reasoning_texts:
        position = generated.find(reasoning) if reasoning.strip() else -1
        if position >= 0:
            rest = generated[:position] + generated[position + len(reasoning) :]
            return reasoning, rest, None
    return "", generated, None


def item_texts(record: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(reasoning texts, history texts: tool results and non-system input messages)."""
    reasoning: list[str] = []
    history: list[str] = []
    response = record.get("response")
    output = response.get("output") if isinstance(response, Mapping) else None
    for item in output if isinstance(output, list) else []:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "reasoning":
            for key in ("summary", "content"):
                reasoning += _part_texts(item.get(key))
        elif item.get("type") == "function_call_output" and isinstance(item.get("output"), str):
            history.append(item["output"])
    params = record.get("responses_create_params")
    inputs = params.get("input") if isinstance(params, Mapping) else None
    for message in inputs if isinstance(inputs, list) else []:
        if isinstance(message, Mapping) and message.get("role") not in ("system", "developer"):
            history += _part_texts(message.get("content"))
            if isinstance(message.get("output"), str):
                history.append(message["output"])
    return reasoning, [h.strip() for h in history if h.strip()]


def _part_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        ]
    return []
