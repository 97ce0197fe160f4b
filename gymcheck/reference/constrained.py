"""Constrained decoding for ``tool_choice: "required"``: the output must be one tool call.

The grammar, by token and by character:
``<think>`` free reasoning ``</think>`` ``\\n\\n`` ``<tool_call>``
``\\n{"name": "<offered tool>", "arguments": <JSON object>}\\n`` ``</tool_call>`` EOS.
The JSON is held to ``json.dumps``' default layout (``", "`` and ``": "`` separators, no
escapes in strings), so the call re-renders through the chat template to the same text.
Each step masks the tokens whose text cannot extend the output along the grammar.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gymcheck.reference.chat_template import (
    THINK_CLOSE,
    THINK_OPEN,
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
)

# A pushdown automaton over characters: a tuple of frames, the top last.
Frame = tuple[Any, ...]
Stack = tuple[Frame, ...]

REASONING_BUDGET = 128
"""Free reasoning tokens before ``</think>`` is forced."""
JSON_BUDGET = 48
"""Free JSON tokens before the call is closed along the shortest way."""

_DIGITS = "0123456789"


def feed(stack: Stack, ch: str, names: tuple[str, ...]) -> Stack | None:
    """The stack after ``ch``, or ``None`` when ``ch`` cannot come next."""
    if not stack:
        return None
    top, rest = stack[-1], stack[:-1]
    kind = top[0]
    if kind == "lit":
        text = top[1]
        if ch != text[0]:
            return None
        return (*rest, ("lit", text[1:])) if len(text) > 1 else rest
    if kind == "value":
        if ch == "{":
            return (*rest, ("obj_first",))
        if ch == "[":
            return (*rest, ("arr_first",))
        if ch == '"':
            return (*rest, ("str",))
        if ch == "-":
            return (*rest, ("num", "sign"))
        if ch == "0":
            return (*rest, ("num", "zero"))
        if ch in _DIGITS:
            return (*rest, ("num", "int"))
        words = {"t": "rue", "f": "alse", "n": "ull"}
        return (*rest, ("lit", words[ch])) if ch in words else None
    if kind == "objstart":
        return (*rest, ("obj_first",)) if ch == "{" else None
    if kind == "str":
        if ch == '"':
            return rest
        if ch == "\\" or ch < " " or ch == "\ufffd":
            return None
        return stack
    if kind == "num":
        phase = top[1]
        if phase == "sign":
            return (*rest, ("num", "zero" if ch == "0" else "int")) if ch in _DIGITS else None
        if phase == "dot":
            return (*rest, ("num", "frac")) if ch in _DIGITS else None
        if ch in _DIGITS and phase in ("int", "frac"):
            return stack
        if ch == "." and phase in ("int", "zero"):
            return (*rest, ("num", "dot"))
        return feed(rest, ch, names)  # the number ended; the character belongs to what follows
    if kind == "obj_first":
        if ch == "}":
            return rest
        if ch == '"':
            return (*rest, ("obj_next",), ("value",), ("lit", ": "), ("str",))
        return None
    if kind == "obj_next":
        if ch == "}":
            return rest
        if ch == ",":
            return (*rest, ("obj_next",), ("value",), ("lit", ": "), ("str",), ("lit", ' "'))
        return None
    if kind == "arr_first":
        if ch == "]":
            return rest
        return feed((*rest, ("arr_next",), ("value",)), ch, names)
    if kind == "arr_next":
        if ch == "]":
            return rest
        if ch == ",":
            return (*rest, ("arr_next",), ("value",), ("lit", " "))
        return None
    if kind == "name":
        prefix = top[1]
        if ch == '"':
            return rest if prefix in names else None
        grown = prefix + ch
        return (*rest, ("name", grown)) if any(n.startswith(grown) for n in names) else None
    raise AssertionError(f"unknown frame {kind!r}")


def shortest_completion(stack: Stack, names: tuple[str, ...]) -> str:
    """The shortest text that takes ``stack`` to the end (how an over-long call is closed)."""
    text = ""
    for frame in reversed(stack):
        kind = frame[0]
        if kind == "lit":
            text += frame[1]
        elif kind == "str":
            text += '"'
        elif kind == "num":
            text += "0" if frame[1] in ("sign", "dot") else ""
        elif kind == "value":
            text += "0"
        elif kind in ("obj_first", "obj_next"):
            text += "}"
        elif kind in ("arr_first", "arr_next"):
            text += "]"
        elif kind == "objstart":
            text += "{}"
        elif kind == "name":
            text += min((n for n in names if n.startswith(frame[1])), key=len)[len(frame[1]) :]
            text += '"'
    return text


def call_stack() -> Stack:
    """The characters between ``<tool_call>`` and ``</tool_call>``."""
    return (
        ("lit", "}\n"),
        ("objstart",),
        ("lit", ', "arguments": '),
        ("name", ""),
        ("lit", '\n{"name": "'),
    )


class ToolCallConstraint:
    """Masks logits step by step so the output is exactly one call of an offered tool."""

    def __init__(self, tokenizer: Any, names: Iterable[str], *, eos_ids: Iterable[int]) -> None:
        self.names = tuple(names)
        self.eos_id = min(eos_ids)
        ids = tokenizer.convert_tokens_to_ids
        self.think_open, self.think_close = ids(THINK_OPEN), ids(THINK_CLOSE)
        self.call_open, self.call_close = ids(TOOL_CALL_OPEN), ids(TOOL_CALL_CLOSE)
        added = set(tokenizer.added_tokens_decoder)
        self.special_ids = frozenset(added | set(eos_ids))
        self.texts = _token_texts(tokenizer)
        # (segment, state): "open", "reason" (count), "gap" (stack), "call", "json" (stack),
        # "close", "eos", "done".
        self.segment = "open"
        self.reasoned = 0
        self.json_tokens = 0
        self.stack: Stack = ()

    def allowed(self) -> list[int] | None:
        """The ids allowed next; ``None`` means any id but the special ones."""
        if self.segment == "open":
            return [self.think_open]
        if self.segment == "reason":
            return [self.think_close] if self.reasoned >= REASONING_BUDGET else None
        if self.segment == "call":
            return [self.call_open]
        if self.segment == "close":
            return [self.call_close]
        if self.segment == "eos" or self.segment == "done":
            return [self.eos_id]
        if self.segment == "json" and self.json_tokens >= JSON_BUDGET:
            closing = shortest_completion(self.stack, self.names)
            return [
                token
                for token, text in enumerate(self.texts)
                if token not in self.special_ids and text and closing.startswith(text)
            ]
        return [
            token
            for token, text in enumerate(self.texts)
            if token not in self.special_ids and text and self._advance_text(text) is not None
        ]

    def mask(self, logits: Any) -> Any:
        import torch

        allowed = self.allowed()
        masked = torch.full_like(logits, float("-inf"))
        if allowed is None:
            masked.copy_(logits)
            blocked = [t for t in self.special_ids if t != self.think_close and t < len(logits)]
            masked[blocked] = float("-inf")
            return masked
        index = torch.tensor([t for t in allowed if t < len(logits)], dtype=torch.long)
        masked[index] = logits[index]
        return masked

    def _advance_text(self, text: str) -> Stack | None:
        stack: Stack | None = self.stack
        for ch in text:
            if stack is None or not stack:
                return None
            stack = feed(stack, ch, self.names)
        return stack

    def advance(self, token: int) -> None:
        if self.segment == "open":
            self.segment = "reason"
        elif self.segment == "reason":
            if token == self.think_close:
                self.segment, self.stack = "gap", (("lit", "\n\n"),)
            else:
                self.reasoned += 1
        elif self.segment in ("gap", "json"):
            stack = self._advance_text(self.texts[token])
            assert stack is not None, "a masked token was sampled"
            self.stack = stack
            self.json_tokens += self.segment == "json"
            if not stack:
                if self.segment == "gap":
                    self.segment = "call"
                else:
                    self.segment = "close"
        elif self.segment == "call":
            self.segment, self.stack = "json", call_stack()
        elif self.segment == "close":
            self.segment = "eos"
        else:
            self.segment = "done"


_TEXT_CACHE: dict[int, list[str]] = {}


def _token_texts(tokenizer: Any) -> list[str]:
    """Each id's text; ids that decode to a partial UTF-8 sequence get "" (never allowed)."""
    key = id(tokenizer)
    if key not in _TEXT_CACHE:
        texts = []
        for token in range(len(tokenizer)):
            text = tokenizer.decode([token], skip_special_tokens=False)
            texts.append("" if "\ufffd" in text else text)
        _TEXT_CACHE[key] = texts
    return _TEXT_CACHE[key]
