"""Decoding ids and comparing texts, for the diagnosis of a continuity break."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
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


def json_spans(text: str, openers: str = "{[") -> Iterator[tuple[int, int, Any]]:
    """``(start, end, value)`` of each JSON value in ``text`` that opens with one of
    ``openers``, left to right; values inside one are part of it."""
    i, n = 0, len(text)
    while i < n:
        if text[i] in openers:
            try:
                value, end = _JSON.raw_decode(text, i)
            except ValueError:
                pass
            else:
                yield i, end, value
                i = end
                continue
        i += 1


def _without_space(text: str) -> str:
    return "".join(char for char in text if not char.isspace())


def canonical_text(text: str) -> str:
    """``text`` with every JSON value in canonical form and all other whitespace removed.

    Two renderings of the same content (a tool call re-serialized, whitespace normalized) give
    the same canonical text.
    """
    out: list[str] = []
    last = 0
    for start, end, value in json_spans(text):
        out.append(_without_space(text[last:start]))
        out.append(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        last = end
    out.append(_without_space(text[last:]))
    return "".join(out)


def _json_blanked(text: str) -> str:
    """``text`` with each JSON value replaced by as many spaces: what is left is not data."""
    out: list[str] = []
    last = 0
    for start, end, _ in json_spans(text):
        out += [text[last:start], " " * (end - start)]
        last = end
    out.append(text[last:])
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
    # A marker inside a JSON value (a tool call's string argument) is text, not a delimiter.
    block = find_reasoning(_json_blanked(generated), REASONING_MARKERS, open_ended=False)
    if block is not None:
        start = len(block.head) + len(block.opening)
        end = start + len(block.reasoning)
        after = end + len(block.closing)
        return generated[start:end], generated[: len(block.head)] + generated[after:], block.closing
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
