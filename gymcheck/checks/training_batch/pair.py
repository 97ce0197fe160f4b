"""One processed sample held against one truth: where they line up, and how a finding reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymcheck.checks.continuity.text import Decoder
from gymcheck.checks.training_batch.fixes import fix_for
from gymcheck.checks.training_batch.truth import Truth
from gymcheck.processing.shapes import Sample
from gymcheck.report import Finding

CONTEXT = 8


def shift_words(by: int) -> str:
    """``"2 position(s) later"``: where a shift of ``by`` puts values."""
    return f"{abs(by)} position(s) {'later' if by > 0 else 'earlier'}"


@dataclass(frozen=True, slots=True)
class Alignment:
    """``sample[sample_start + j] == truth[truth_start + j]`` for ``j < length``."""

    sample_start: int
    truth_start: int
    length: int

    def to_sample(self, truth_index: int) -> int:
        return truth_index - self.truth_start + self.sample_start

    def truth_range(self) -> range:
        return range(self.truth_start, self.truth_start + self.length)


@dataclass(slots=True)
class Pair:
    sample: Sample
    truth: Truth
    record: Mapping[str, Any]
    rollout_index: int
    sample_index: int
    tokenizer: Any = None
    decoder: Decoder | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.decoder = Decoder(self.tokenizer) if self.tokenizer is not None else None

    def text(self, ids: Sequence[int]) -> str:
        if self.decoder is not None:
            try:
                return self.decoder(ids)
            except (ValueError, TypeError, OverflowError, IndexError):
                pass  # an id the tokenizer cannot decode: show the ids
        return "".join(f"<{int(i)}>" for i in ids)

    def masked_text(self, ids: Sequence[int], mask: Sequence[int], index: int) -> str:
        """The tokens of ``ids`` that ``mask`` trains, near ``index`` (``·`` for the others)."""
        low, high = max(0, index - CONTEXT), min(len(ids), index + CONTEXT)
        parts = [self.text([ids[i]]) if mask[i] else "·" for i in range(low, high)]
        return ("…" if low else "") + "".join(parts) + ("…" if high < len(ids) else "")

    def token(self, truth_index: int) -> str:
        """The truth's token at ``truth_index``, decoded."""
        return self.text(self.truth.token_ids[truth_index : truth_index + 1])

    def context(self, ids: Sequence[int], index: int) -> str:
        low, high = max(0, index - CONTEXT), min(len(ids), index + CONTEXT)
        return ("…" if low else "") + self.text(ids[low:high]) + ("…" if high < len(ids) else "")

    def turn_at(self, truth_index: int) -> int | None:
        """The turn whose generation holds ``truth_index``, or whose output follows it."""
        spans = self.truth.sample.spans
        holding = self.truth.sample.turn_at(truth_index)
        if holding is not None:
            return holding
        before = [s.turn for s in spans if s.end <= truth_index]
        return before[-1] if before else (spans[0].turn if spans else None)

    def finding_at(
        self, code: str, message: str, al: Alignment, truth_index: int, **fields: Any
    ) -> Finding:
        """``finding`` placed at the truth's ``truth_index``: its sample index and its turn."""
        return self.finding(
            code,
            message,
            token_index=al.to_sample(truth_index),
            turn=self.turn_at(truth_index),
            **fields,
        )

    def finding(
        self,
        code: str,
        message: str,
        *,
        token_index: int | None = None,
        turn: int | None = None,
        expected: str | None = None,
        actual: str | None = None,
        cause: str | None = None,
        **details: Any,
    ) -> Finding:
        extra: dict[str, Any] = {"shape": self.sample.shape, "sample": self.sample_index}
        if self.sample.left_padding and token_index is not None:
            extra["padded_index"] = token_index + self.sample.left_padding
        return Finding(
            code,
            message,
            rollout_index=self.rollout_index,
            cause=cause,
            turn=turn,
            token_index=token_index,
            expected=expected,
            actual=actual,
            fix=fix_for(code, self.sample.shape),
            details={**extra, **details},
        )
