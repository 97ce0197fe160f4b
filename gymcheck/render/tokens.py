"""The aligned token view of a divergence: expected and actual side by side, position by
position, from the ids, pieces and log-probs a finding carries (``gymcheck.checks.token_window``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gymcheck.report import Finding

VISIBLE = {" ": "·", "\n": "↵", "\t": "→", "\r": "␍"}


def _visible(ch: str) -> str:
    if ch in VISIBLE:
        return VISIBLE[ch]
    return ch if ch.isprintable() else repr(ch)[1:-1]


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    piece: str | None
    """The decoded text of this one id (``None`` without a tokenizer)."""
    special: bool = False
    logprob: float | None = None
    """The engine's log-prob, for a token the model generated."""

    @property
    def shown(self) -> str:
        """The piece with whitespace made visible, or the id when there is no piece."""
        if self.piece is None:
            return f"#{self.id}"
        return "".join(_visible(ch) for ch in self.piece) or "∅"


def logprob_text(value: float | None) -> str:
    """``-0.132``, ``-10.606``; near zero ``-2.1e-05``, so a sure token does not read ``-0.000``."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    return f"{value:.3f}" if abs(value) >= 1e-3 else f"{value:.1e}"


@dataclass(frozen=True, slots=True)
class TokenRow:
    position: int
    expected: Token | None
    actual: Token | None
    diverges: bool
    """The first position where the two sides differ."""

    @property
    def differs(self) -> bool:
        left = self.expected.id if self.expected else None
        right = self.actual.id if self.actual else None
        return left != right


def token_rows(finding: Finding, *, before: int = 4, after: int = 12) -> list[TokenRow] | None:
    """Rows from ``before`` positions before the divergence to ``after`` past it, or ``None``
    when the finding carries no token window."""
    details = finding.details
    start = details.get("window_start")
    if not isinstance(start, int) or finding.token_index is None:
        return None
    expected = _tokens(details, "expected")
    actual = _tokens(details, "actual")
    if expected is None or actual is None:
        return None
    index = finding.token_index
    rows = []
    for position in range(max(start, index - before), index + after + 1):
        offset = position - start
        left = expected[offset] if offset < len(expected) else None
        right = actual[offset] if offset < len(actual) else None
        if left is None and right is None:
            break
        rows.append(TokenRow(position, left, right, diverges=position == index))
    return rows


def _tokens(details: dict[str, Any], side: str) -> list[Token] | None:
    ids = details.get(f"{side}_ids")
    if not isinstance(ids, list):
        return None
    pieces = details.get(f"{side}_pieces")
    logprobs = details.get(f"{side}_logprobs") or []
    special = set(details.get("special_ids") or ())
    tokens = []
    for k, token_id in enumerate(ids):
        piece = pieces[k] if isinstance(pieces, list) and k < len(pieces) else None
        logprob = logprobs[k] if k < len(logprobs) else None
        tokens.append(
            Token(
                int(token_id),
                piece,
                special=token_id in special,
                logprob=float(logprob) if isinstance(logprob, int | float) else None,
            )
        )
    return tokens
