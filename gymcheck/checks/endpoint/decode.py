"""Sub-check ``decode``: the generated ids decode to the text the server returned.

An incremental detokenizer (vLLM's, like Hugging Face's ``DecodeStream``) emits text only once
it no longer ends in U+FFFD, so when generation stops inside a multi-byte character the ids
since the last emitted text never reach the returned text. That is the engine's normal
behavior, not a wrong tokenizer: it passes with an ``info`` finding that says which client it
breaks. Any other difference fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gymcheck.checks.endpoint.probe import Probe
from gymcheck.report import Finding, Status

REPLACEMENT_CHAR = "\ufffd"
WITHHELD_CODE = "endpoint_decode_withheld"
WITHHELD_EFFECT = (
    "A client that rebuilds the next prompt from the returned text loses those bytes, so the "
    "next prompt's tokens differ from the generated ones; token-in-token-out (the turn's "
    "generation_token_ids sent back, as NeMo Gym's vllm_model does) is unaffected."
)
WITHHELD_FIX = "rebuild later prompts from the generated token ids, not from the returned text"


def emitted_count(tokenizer: Any, ids: Sequence[int]) -> int:
    """How many of ``ids`` an incremental detokenizer has turned into text when they stop.

    It holds back every id since the text last ended in a complete character.
    """
    end = len(ids)
    while end > 0 and _decode(tokenizer, ids[:end]).endswith(REPLACEMENT_CHAR):
        end -= 1
    return end


def _decode(tokenizer: Any, ids: Sequence[int]) -> str:
    return str(tokenizer.decode(list(ids), skip_special_tokens=True))


def _returned_text(message: Mapping[str, Any]) -> tuple[str, str]:
    """(reasoning, content) of the returned message; ``""`` where absent."""
    content = message.get("content")
    reasoning = next(
        (message[k] for k in ("reasoning_content", "reasoning") if isinstance(message.get(k), str)),
        "",
    )
    return str(reasoning), content if isinstance(content, str) else ""


def _matches(decoded: str, reasoning: str, content: str) -> bool:
    if decoded == content or decoded.strip() == content.strip():
        return True
    return bool(reasoning) and reasoning.strip() in decoded and content.strip() in decoded


def check_decode(probe: Probe) -> None:
    chat = probe.chat
    if probe.status_of("token_info") is not Status.PASS or chat is None or chat.info is None:
        probe.record("decode", Status.SKIP, "skipped: needs token information")
        return
    if probe.tokenizer is None:
        probe.record("decode", Status.SKIP, f"skipped: {probe.tokenizer_note}")
        return
    ids = chat.info.generation_token_ids
    try:
        decoded = _decode(probe.tokenizer, ids)
    except (ValueError, TypeError, OverflowError, IndexError) as exc:
        probe.fail("decode", f"the generated ids do not decode with {probe.tokenizer_note}: {exc}")
        return
    reasoning, content = _returned_text(chat.message)
    if _matches(decoded, reasoning, content):
        what = "text" if decoded.strip() == content.strip() else "reasoning + content"
        probe.record(
            "decode", Status.PASS, f"the {len(ids)} generated ids decode to the returned {what}"
        )
        return
    emitted = emitted_count(probe.tokenizer, ids)
    if emitted < len(ids) and _matches(_decode(probe.tokenizer, ids[:emitted]), reasoning, content):
        _record_withheld(probe, ids, emitted, decoded)
        return
    expected = reasoning + content
    at = next(
        (i for i, (a, b) in enumerate(zip(decoded, expected, strict=False)) if a != b),
        min(len(decoded), len(expected)),
    )
    probe.fail(
        "decode",
        f"decoding the generated ids ({probe.tokenizer_note}) gives different text from "
        f"character {at}: decoded {decoded[max(0, at - 20) : at + 40]!r} vs returned "
        f"{expected[max(0, at - 20) : at + 40]!r}",
    )


def _record_withheld(probe: Probe, ids: Sequence[int], emitted: int, decoded: str) -> None:
    head = _decode(probe.tokenizer, ids[:emitted])
    withheld = (
        decoded[len(head) :]
        if decoded.startswith(head)
        else _decode(probe.tokenizer, ids[emitted:])
    )
    held = len(ids) - emitted
    probe.details["decode"] = {"withheld_ids": list(ids[emitted:]), "withheld_text": withheld}
    probe.record(
        "decode",
        Status.PASS,
        f"the {len(ids)} generated ids decode to the returned text, except the last {held} "
        f"({withheld!r}): the engine withheld a character whose UTF-8 bytes were incomplete "
        "when generation stopped",
        finding=Finding(
            code=WITHHELD_CODE,
            message=f"the returned text ends before the last {held} generated id(s), which decode "
            f"to {withheld!r}: the server's incremental detokenizer emits no character whose "
            "UTF-8 bytes are incomplete when generation stops (vLLM's normal behavior). "
            + WITHHELD_EFFECT,
            severity="info",
            fix=WITHHELD_FIX,
            details={"withheld_ids": list(ids[emitted:])},
        ),
    )
