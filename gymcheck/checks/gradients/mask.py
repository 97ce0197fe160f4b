"""Mismatches of a sample's loss mask with its generated tokens, as findings."""

from __future__ import annotations

from typing import Any

from gymcheck.report import Finding
from gymcheck.training import TrainingSample, TrainModel

CONTEXT_TOKENS = 8

FIX_MASK = (
    "build the loss mask from the message_log: 1 on the ids of trainable (assistant) entries, "
    "0 on prompt slices, aligned to the target tokens (mask[t] weights log p(token[t] | :t))"
)


def _shifted(mask: list[int], by: int) -> list[int]:
    if by > 0:
        return [0] * by + mask[:-by]
    return mask[-by:] + [0] * -by


def mask_findings(sample: TrainingSample, model: TrainModel) -> list[Finding]:
    """The loss mask against the generated tokens: empty, shifted, covering prompt, partial."""
    mask = [1 if m else 0 for m in sample.sequence.loss_mask]
    ids = sample.sequence.token_ids
    where: dict[str, Any] = {"rollout_index": sample.rollout_index}
    if len(mask) != len(ids):
        return [
            Finding(
                "loss_mask_misaligned",
                f"loss mask has {len(mask)} entries for {len(ids)} tokens",
                cause="mask_length",
                fix=FIX_MASK,
                **where,
            )
        ]
    if not any(mask):
        return [
            Finding(
                "loss_mask_empty",
                f"the loss mask is all zero over {len(ids)} tokens: nothing would be trained",
                fix=FIX_MASK,
                **where,
            )
        ]
    expected = sample.generated_mask
    if mask == expected:
        return []
    first = next(i for i, (m, e) in enumerate(zip(mask, expected, strict=True)) if m != e)
    context = ids[max(0, first - CONTEXT_TOKENS) : first + CONTEXT_TOKENS]
    common: dict[str, Any] = {
        "token_index": first,
        "turn": sample.turn_at(first) or sample.turn_at(first - 1) or sample.turn_at(first + 1),
        "fix": FIX_MASK,
        "details": {
            "token_id": int(ids[first]),
            "text": model.decode([ids[first]]),
            "context": model.decode(context),
            "mask_tokens": sum(mask),
            "generated_tokens": sum(expected),
        },
        **where,
    }
    for by in (1, -1):
        if mask == _shifted(expected, by):
            side = "after" if by > 0 else "before"
            return [
                Finding(
                    "loss_mask_misaligned",
                    f"the loss mask is shifted by {by:+d}: it starts one token {side} each "
                    f"generation (token {first}, {model.decode([ids[first]])!r}, is "
                    f"{'trained' if mask[first] else 'not trained'} but "
                    f"{'is not' if mask[first] else 'is'} generated)",
                    cause="mask_shifted",
                    expected=model.decode([ids[i] for i, e in enumerate(expected) if e][:16]),
                    actual=model.decode([ids[i] for i, m in enumerate(mask) if m][:16]),
                    **common,
                )
            ]
    extra = [i for i, (m, e) in enumerate(zip(mask, expected, strict=True)) if m and not e]
    if extra:
        common["token_index"] = extra[0]
        common["turn"] = None
        common["details"]["text"] = model.decode([ids[extra[0]]])
        return [
            Finding(
                "loss_mask_misaligned",
                f"the loss mask covers {len(extra)} token(s) that were not generated "
                f"(prompt, tool output or template), first at token {extra[0]}",
                cause="mask_covers_prompt",
                actual=model.decode([ids[i] for i in extra[:32]]),
                **common,
            )
        ]
    missing = sum(expected) - sum(mask)
    return [
        Finding(
            "loss_mask_misaligned",
            f"the loss mask misses {missing} generated token(s), first at token {first}",
            cause="mask_misses_generation",
            expected=model.decode([ids[first]]),
            **common,
        )
    ]
