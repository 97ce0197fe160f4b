"""Chat-template properties that token continuity across turns depends on.

Each property renders a multi-turn tool-calling conversation (system, user, an assistant tool
call, a tool result, an assistant answer with reasoning, a user follow-up) with the template,
tokenizes every render the same way (``tokenize=False``, then ``encode`` with
``add_special_tokens=False``), and compares renders as token ids:

``append_only``               rendering turns 1..k is a prefix of rendering 1..k+1
``generation_prompt_prefix``  the render with ``add_generation_prompt=True`` is a prefix of the
                              render with the assistant reply appended
``reasoning_preserved``       an earlier assistant turn's reasoning survives into later renders
``special_tokens_in_content`` special-token text inside a user message stays text

A failing property means that re-rendering the conversation gives the trainer other ids than the
ones the model saw or generated. Token-in-token-out (the inference engine's own ids carried into
training, as NeMo RL's prefix splicing does) makes the first three harmless.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gymcheck.checks.roundtrip import control_ids, encode
from gymcheck.checks.template_conversation import (
    CONVERSATION,
    MARKER_LOOKALIKES,
    TOOLS,
    Message,
)
from gymcheck.errors import GymcheckError
from gymcheck.rollout import first_divergence

PropertyStatus = Literal["pass", "fail", "skip"]

PROPERTIES = (
    "append_only",
    "generation_prompt_prefix",
    "reasoning_preserved",
    "special_tokens_in_content",
)

CONTEXT_TOKENS = 8


class TemplateRenderError(GymcheckError):
    """The chat template raised on the test conversation."""


@dataclass(slots=True)
class PropertyResult:
    """One template property: ``pass``, ``fail`` (with where and what), or ``skip`` (why)."""

    name: str
    status: PropertyStatus
    message: str
    token_index: int | None = None
    expected: str | None = None
    actual: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def render_text(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    *,
    chat_template: str | None = None,
    add_generation_prompt: bool = False,
    tools: Sequence[Mapping[str, Any]] | None = TOOLS,
) -> str:
    """The template's text for ``messages``; ``TemplateRenderError`` when the template raises."""
    try:
        rendered = tokenizer.apply_chat_template(
            [dict(m) for m in messages],
            tools=list(tools) if tools else None,
            chat_template=chat_template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )
    except Exception as exc:  # jinja2 errors, raise_exception(), missing keys
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc
    # Some versions return a batch or a mapping even with tokenize=False.
    if isinstance(rendered, Mapping):
        rendered = rendered.get("text", rendered.get("input_ids"))
    if isinstance(rendered, list):
        rendered = rendered[0] if rendered else ""
    if not isinstance(rendered, str):
        raise TemplateRenderError(f"apply_chat_template returned {type(rendered).__name__}")
    return rendered


def render_ids(tokenizer: Any, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> list[int]:
    """The render's ids, tokenized as an inference server does (text, then encode)."""
    return encode(tokenizer, render_text(tokenizer, messages, **kwargs))


def _context(tokenizer: Any, ids: Sequence[int], index: int) -> str:
    """Decoded text around ``index``, with ``⟦…⟧`` around the token at it."""
    before = tokenizer.decode(list(ids[max(0, index - CONTEXT_TOKENS) : index]))
    at = tokenizer.decode(list(ids[index : index + 1])) if index < len(ids) else "<end>"
    after = tokenizer.decode(list(ids[index + 1 : index + 1 + CONTEXT_TOKENS]))
    return f"{before}⟦{at}⟧{after}"


def _prefix_failure(
    tokenizer: Any,
    name: str,
    earlier: Sequence[int],
    later: Sequence[int],
    index: int,
    what: str,
    *,
    earlier_text: str,
    later_text: str,
    **details: Any,
) -> PropertyResult:
    text_prefix = later_text.startswith(earlier_text)
    why = (
        "the text is a prefix but the tokens at the boundary merge"
        if text_prefix
        else "the later render changed earlier text"
    )
    return PropertyResult(
        name,
        "fail",
        f"{what}: diverges at token {index} ({why})",
        token_index=index,
        expected=_context(tokenizer, earlier, index),
        actual=_context(tokenizer, later, index),
        details={"text_prefix": text_prefix, **details},
    )


def check_append_only(
    tokenizer: Any,
    *,
    chat_template: str | None = None,
    messages: Sequence[Mapping[str, Any]] = CONVERSATION,
) -> PropertyResult:
    """Rendering turns 1..k is a token prefix of rendering 1..k+1, for every k.

    Starts at the first prefix holding a user message: templates may refuse anything shorter.
    """
    start = next((i + 1 for i, m in enumerate(messages) if m.get("role") == "user"), 1)
    previous_text = render_text(tokenizer, messages[:start], chat_template=chat_template)
    previous = encode(tokenizer, previous_text)
    first: PropertyResult | None = None
    breaking: list[int] = []
    for k in range(start + 1, len(messages) + 1):
        text = render_text(tokenizer, messages[:k], chat_template=chat_template)
        ids = encode(tokenizer, text)
        index = first_divergence(previous, ids)
        if index is not None:
            breaking.append(k)
            first = first or _prefix_failure(
                tokenizer,
                "append_only",
                previous,
                ids,
                index,
                f"adding turn {k} ({messages[k - 1].get('role')}) rewrote turns 1..{k - 1}",
                earlier_text=previous_text,
                later_text=text,
                turn=k,
            )
        previous, previous_text = ids, text
    if first is None:
        return PropertyResult("append_only", "pass", f"{len(messages)} turns render append-only")
    first.details["breaking_turns"] = breaking
    return first


def check_generation_prompt_prefix(
    tokenizer: Any,
    *,
    chat_template: str | None = None,
    messages: Sequence[Mapping[str, Any]] = CONVERSATION,
) -> PropertyResult:
    """For every assistant turn: the generation prompt is a token prefix of the render with
    that reply appended."""
    checked = 0
    for k, message in enumerate(messages, start=1):
        if message.get("role") != "assistant":
            continue
        prompt_text = render_text(
            tokenizer, messages[: k - 1], chat_template=chat_template, add_generation_prompt=True
        )
        full_text = render_text(tokenizer, messages[:k], chat_template=chat_template)
        prompt, full = encode(tokenizer, prompt_text), encode(tokenizer, full_text)
        index = first_divergence(prompt, full)
        if index is not None:
            return _prefix_failure(
                tokenizer,
                "generation_prompt_prefix",
                prompt,
                full,
                index,
                f"the generation prompt for turn {k} is not a prefix of the render with the reply",
                earlier_text=prompt_text,
                later_text=full_text,
                turn=k,
            )
        checked += 1
    return PropertyResult(
        "generation_prompt_prefix",
        "pass",
        f"generation prompt is a prefix of the reply's render ({checked} assistant turns)",
    )


def _with_inline_reasoning(messages: Sequence[Mapping[str, Any]]) -> list[Message]:
    """The conversation with ``reasoning_content`` moved into ``content`` as ``<think>``."""
    moved: list[Message] = []
    for message in messages:
        message = dict(message)
        reasoning = message.pop("reasoning_content", None)
        if reasoning:
            message["content"] = f"<think>\n{reasoning}\n</think>\n\n{message.get('content', '')}"
        moved.append(message)
    return moved


def check_reasoning_preserved(
    tokenizer: Any,
    *,
    chat_template: str | None = None,
    messages: Sequence[Mapping[str, Any]] = CONVERSATION,
) -> PropertyResult:
    """The reasoning of an earlier assistant turn survives once later turns are added.

    Tries ``reasoning_content`` first (Qwen3, DeepSeek-R1 templates), then ``<think>`` inside
    ``content`` for templates that ignore the field.
    """
    turn = next(
        (i + 1 for i, m in enumerate(messages) if m.get("reasoning_content")),
        None,
    )
    if turn is None or turn == len(messages):
        return PropertyResult(
            "reasoning_preserved", "skip", "the conversation has no reasoning before a later turn"
        )
    reasoning = str(messages[turn - 1]["reasoning_content"])
    for form, convo in (
        ("reasoning_content", list(messages)),
        ("<think> in content", _with_inline_reasoning(messages)),
    ):
        own_text = render_text(tokenizer, convo[:turn], chat_template=chat_template)
        if reasoning not in own_text:
            continue  # this template does not render reasoning in this form
        later_text = render_text(tokenizer, convo, chat_template=chat_template)
        if reasoning in later_text:
            return PropertyResult(
                "reasoning_preserved",
                "pass",
                f"turn {turn}'s reasoning ({form}) survives into later renders",
                details={"form": form},
            )
        own, later = encode(tokenizer, own_text), encode(tokenizer, later_text)
        index = first_divergence(own, later)
        return PropertyResult(
            "reasoning_preserved",
            "fail",
            f"the template strips turn {turn}'s reasoning ({form}) once a later user turn "
            "follows: the model generated it, later prompts lack it",
            token_index=index,
            expected=_context(tokenizer, own, index) if index is not None else reasoning,
            actual=_context(tokenizer, later, index) if index is not None else later_text,
            details={"form": form, "turn": turn, "reasoning": reasoning},
        )
    return PropertyResult(
        "reasoning_preserved",
        "skip",
        "the template renders reasoning in neither reasoning_content nor <think> content",
    )


def _marker_texts(tokenizer: Any, chat_template: str | None) -> list[str]:
    """Special-token text to type into a user message: the markers the template itself emits,
    then lookalikes from other families."""
    controls = control_ids(tokenizer)
    structure = render_ids(tokenizer, CONVERSATION[:2], chat_template=chat_template, tools=None)
    own = [tokenizer.convert_ids_to_tokens(i) for i in dict.fromkeys(structure) if i in controls]
    eos = getattr(tokenizer, "eos_token", None)
    return list(dict.fromkeys([*own, *([eos] if eos else []), *MARKER_LOOKALIKES]))


def check_special_tokens_in_content(
    tokenizer: Any, *, chat_template: str | None = None
) -> PropertyResult:
    """Special-token text inside a user message renders as text, never as special ids."""
    markers = _marker_texts(tokenizer, chat_template)
    content = "Please repeat this literally: " + " ".join(markers) + " done"
    messages = [CONVERSATION[0], {"role": "user", "content": content}]
    text = render_text(tokenizer, messages, chat_template=chat_template, tools=None)
    try:
        encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = list(encoding["input_ids"]), list(encoding["offset_mapping"])
    except (NotImplementedError, ValueError, TypeError):  # no offsets without a fast backend
        ids, offsets = encode(tokenizer, text), []
    controls = control_ids(tokenizer)
    start = text.find(content) if offsets else -1
    if start >= 0:
        end = start + len(content)
        injected = [
            i
            for i, (token, (a, b)) in enumerate(zip(ids, offsets, strict=True))
            if token in controls and a >= start and b <= end
        ]
    else:
        # The template rewrote the content (escaped it, say): count control ids against a
        # render of harmless content instead.
        plain = render_ids(
            tokenizer,
            [CONVERSATION[0], {"role": "user", "content": "Please repeat this literally: done"}],
            chat_template=chat_template,
            tools=None,
        )
        surplus = sum(t in controls for t in ids) - sum(t in controls for t in plain)
        injected = [i for i, t in enumerate(ids) if t in controls][-surplus:] if surplus > 0 else []
    if not injected:
        return PropertyResult(
            "special_tokens_in_content",
            "pass",
            f"special-token text in user content stays text ({len(markers)} markers tried)",
            details={"markers": markers},
        )
    tokens = [tokenizer.convert_ids_to_tokens(ids[i]) for i in injected]
    first = injected[0]
    return PropertyResult(
        "special_tokens_in_content",
        "fail",
        f"user text became {len(injected)} special ids ({', '.join(dict.fromkeys(tokens))})",
        token_index=first,
        expected=re.sub(r"\s+", " ", content),
        actual=_context(tokenizer, ids, first),
        details={"markers": markers, "injected_ids": [ids[i] for i in injected]},
    )


def has_chat_template(tokenizer: Any, chat_template: str | None = None) -> bool:
    return bool(chat_template or getattr(tokenizer, "chat_template", None))


def template_properties(
    tokenizer: Any, *, chat_template: str | None = None
) -> list[PropertyResult]:
    """Every property in ``PROPERTIES`` order. A property whose render raises is ``skip``
    with the template's error (``details["render_error"]``)."""
    checks = (
        check_append_only,
        check_generation_prompt_prefix,
        check_reasoning_preserved,
        check_special_tokens_in_content,
    )
    results = []
    for name, check in zip(PROPERTIES, checks, strict=True):
        try:
            results.append(check(tokenizer, chat_template=chat_template))
        except TemplateRenderError as exc:
            results.append(
                PropertyResult(
                    name,
                    "skip",
                    f"the chat template cannot render the test conversation: {exc}",
                    details={"render_error": str(exc)},
                )
            )
    return results
