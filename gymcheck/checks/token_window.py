"""The token-level evidence of a divergence: both sides' ids, pieces and log-probs around it.

A finding carries this in its ``details`` (keys below) so that the console and HTML renderers
can show expected and actual side by side, token by token, without a tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

WINDOW_BEFORE = 8
WINDOW_AFTER = 24


def token_window(
    expected: Sequence[int],
    actual: Sequence[int],
    index: int,
    *,
    piece: Callable[[int], str] | None = None,
    special_ids: frozenset[int] | set[int] = frozenset(),
    expected_logprobs: dict[int, Any] | None = None,
) -> dict[str, Any]:
    """The window ``[index - WINDOW_BEFORE, index + WINDOW_AFTER)`` of both sequences.

    ``index`` is the first position where they differ. ``piece`` decodes one id (omitted, the
    view shows ids only). ``expected_logprobs`` maps a position of ``expected`` to the engine's
    log-prob of the token generated there.

    Keys: ``window_start``, ``expected_ids``, ``actual_ids`` and, with ``piece``,
    ``expected_pieces``, ``actual_pieces`` and ``special_ids`` (the template tokens seen);
    ``expected_logprobs`` is aligned with ``expected_ids`` (``None`` for prompt tokens).
    """
    low = max(0, index - WINDOW_BEFORE)
    high = index + WINDOW_AFTER
    window: dict[str, Any] = {
        "window_start": low,
        "expected_ids": list(expected[low:high]),
        "actual_ids": list(actual[low:high]),
    }
    if expected_logprobs:
        logprobs = [expected_logprobs.get(k) for k in range(low, min(high, len(expected)))]
        if any(isinstance(value, int | float) for value in logprobs):
            window["expected_logprobs"] = logprobs
    if piece is not None:
        window["expected_pieces"] = [piece(i) for i in window["expected_ids"]]
        window["actual_pieces"] = [piece(i) for i in window["actual_ids"]]
        seen = {*window["expected_ids"], *window["actual_ids"]}
        window["special_ids"] = sorted(seen & set(special_ids))
    return window
