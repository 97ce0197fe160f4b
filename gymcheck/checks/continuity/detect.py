"""Where a rollout's turns stop extending each other: the fast part of token continuity.

Each trainable item's ``prompt_token_ids`` must start with the previous item's
``prompt_token_ids + generation_token_ids``. Checking that is two list-slice comparisons per
turn (or a byte comparison of the record's JSON text); only a turn that breaks it is diagnosed.
"""

from __future__ import annotations

from collections.abc import Sequence

from gymcheck.rollout import Turn, first_divergence


def find_breaks(turns: Sequence[Turn], raw: bytes | None = None) -> list[int | None]:
    """Per turn, the first index where its prompt stops extending the previous turn.

    ``raw``, the record's JSON line, allows a faster proof of continuity: byte-identical array
    text parses to identical ids. Any doubt falls back to comparing the lists.
    """
    breaks: list[int | None] = [None] * len(turns)
    proven = _contiguous_in_json(turns, raw) if raw is not None and len(turns) > 1 else None
    for k in range(1, len(turns)):
        if proven is not None and proven[k]:
            continue
        previous, prompt = turns[k - 1], turns[k].prompt_token_ids
        head, generated = previous.prompt_token_ids, previous.generation_token_ids
        split = len(head)
        end = split + len(generated)
        if len(prompt) >= end and prompt[split:end] == generated and prompt[:split] == head:
            continue
        breaks[k] = first_divergence(previous.full_token_ids, prompt)
    return breaks


_PROMPT_KEY = b'"prompt_token_ids"'
_GENERATION_KEY = b'"generation_token_ids"'


_JSON_SPACE = b" \t\r\n"


def _json_arrays(
    raw: bytes, key: bytes, lists: Sequence[Sequence[int]]
) -> list[tuple[int, int]] | None:
    """Where the inner text of each ``key: [...]`` array lies in ``raw``, trimmed of spaces,
    if the arrays map 1:1 onto ``lists``. Offsets, not copies: the arrays are most of a line."""
    spans: list[tuple[int, int]] = []
    position = 0
    while (found := raw.find(key, position)) >= 0:
        start = raw.find(b"[", found + len(key))
        if start < 0 or raw[found + len(key) : start].strip() != b":":
            return None
        end = raw.find(b"]", start)  # arrays of ids hold no nested brackets
        if end < 0:
            return None
        inner_start, inner_end = start + 1, end
        while inner_start < inner_end and raw[inner_start] in _JSON_SPACE:
            inner_start += 1
        while inner_end > inner_start and raw[inner_end - 1] in _JSON_SPACE:
            inner_end -= 1
        spans.append((inner_start, inner_end))
        position = end
    # Each trainable item holds the key once; any other occurrence (a nested copy, a duplicate
    # key) makes the counts differ, and the caller falls back to comparing lists.
    return spans if len(spans) == len(lists) else None


def _contiguous_in_json(turns: Sequence[Turn], raw: bytes) -> list[bool] | None:
    prompts = _json_arrays(raw, _PROMPT_KEY, [t.prompt_token_ids for t in turns])
    generations = _json_arrays(raw, _GENERATION_KEY, [t.generation_token_ids for t in turns])
    if prompts is None or generations is None:
        return None
    proven = [False] * len(turns)
    for k in range(1, len(turns)):
        (head_start, head_end), (gen_start, gen_end) = prompts[k - 1], generations[k - 1]
        prompt_start, prompt_end = prompts[k]
        if head_start == head_end or gen_start == gen_end:
            continue
        head_length = head_end - head_start
        if not raw.startswith(raw[head_start:head_end], prompt_start, prompt_end):
            continue
        generated = raw[gen_start:gen_end]
        for separator in (b",", b", "):
            at = prompt_start + head_length
            if not raw.startswith(separator, at, prompt_end):
                continue
            at += len(separator)
            if not raw.startswith(generated, at, prompt_end):
                continue
            after = at + len(generated)
            # The generation must end at an id boundary in the new prompt.
            if after == prompt_end or raw[after] in b", \t\r\n":
                proven[k] = True
                break
    return proven
