"""The sample's token ids against the rollout's: equal, cut short, padded, or changed.

A change gets the continuity diagnosis' cause (``retokenized``, ``rerendered``, ...): the
sample is diagnosed as if it were the next prompt after the truth's last turn.
"""

from __future__ import annotations

from gymcheck.checks.continuity import CAUSES, diagnose_breaks
from gymcheck.checks.training_batch.pair import Alignment, Pair
from gymcheck.report import Finding
from gymcheck.rollout import Turn, first_divergence


def align(pair: Pair) -> tuple[Alignment | None, list[Finding]]:
    """Where the sample lines up with the truth (``None``: it does not), and what differs."""
    s, t = pair.sample.token_ids, pair.truth.token_ids
    generated = pair.truth.sample.generated_mask
    if s == t:
        return Alignment(0, 0, len(s)), []
    if 0 < len(s) < len(t) and t[: len(s)] == s:
        return Alignment(0, 0, len(s)), [_truncated(pair, len(s), sum(generated[len(s) :]), "end")]
    if 0 < len(s) < len(t) and t[len(t) - len(s) :] == s:
        cut = len(t) - len(s)
        return Alignment(0, cut, len(s)), [_truncated(pair, 0, sum(generated[:cut]), "start")]
    if len(s) > len(t) and s[: len(t)] == t:
        return Alignment(0, 0, len(t)), [_extra(pair, len(t), len(s) - len(t), "after")]
    if len(s) > len(t) and s[len(s) - len(t) :] == t:
        extra = len(s) - len(t)
        return Alignment(extra, 0, len(t)), [_extra(pair, 0, extra, "before")]
    return None, [_changed(pair)]


def _truncated(pair: Pair, index: int, lost: int, side: str) -> Finding:
    t = pair.truth.token_ids
    kept = len(pair.sample.token_ids)
    what = f"{lost} generated token(s)" if lost else "prompt tokens only"
    return pair.finding(
        "batch_truncated",
        f"the sample holds {kept} of the rollout's {len(t)} tokens: {len(t) - kept} were cut "
        f"from the {side} ({what})",
        token_index=index,
        turn=pair.turn_at(index if side == "end" else 0),
        expected=pair.context(t, kept if side == "end" else len(t) - kept),
        actual=pair.context(pair.sample.token_ids, index),
        side=side,
        cut_tokens=len(t) - kept,
        generated_tokens_cut=lost,
    )


def _extra(pair: Pair, index: int, count: int, side: str) -> Finding:
    s = pair.sample.token_ids
    return pair.finding(
        "batch_tokens_mismatch",
        f"the sample has {count} token(s) {side} the rollout's sequence, first at token {index} "
        f"({pair.text(s[index : index + 1])!r}): padding left in, or a token the engine never "
        "saw",
        token_index=index,
        expected=pair.context(pair.truth.token_ids, index),
        actual=pair.context(s, index),
        extra_tokens=count,
        side=side,
    )


def _changed(pair: Pair) -> Finding:
    s, t = pair.sample.token_ids, pair.truth.token_ids
    index = first_divergence(t, s)
    index = len(s) if index is None else index
    turns = list(pair.truth.turns)
    probe = Turn(len(turns) + 1, -1, "sample", list(s), [], [])
    breaks: list[int | None] = [None] * len(turns) + [index]
    found = diagnose_breaks(pair.record, [*turns, probe], breaks, pair.tokenizer)
    cause = found[0].cause if found else "unknown"
    evidence = dict(found[0].details) if found else {}
    cause = cause or "unknown"
    try:
        reason = CAUSES[cause].describe(evidence)
    except (KeyError, IndexError):
        reason = CAUSES["unknown"].describe({})
    return pair.finding(
        "batch_tokens_mismatch",
        f"the sample's token ids differ from the rollout's at token {index} ({cause}): {reason}",
        token_index=index,
        turn=pair.turn_at(index),
        cause=cause,
        expected=pair.context(t, index),
        actual=pair.context(s, index),
        sample_tokens=len(s),
        rollout_tokens=len(t),
        **{k: v for k, v in evidence.items() if k not in ("expected_ids", "actual_ids")},
    )
