"""Record-level checks of one NeMo Gym rollout record (DESIGN.md section 4).

Every code but ``continuity_break`` is found here. The common case (a clean record) costs a few
C-level passes (element types, ``min``/``max``/``sum``) over each token once; only a record that
fails them gets a per-element look to say exactly which element is bad. The verdicts are exact:
every id is type- and range-checked, whatever its position in the list.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymcheck.checks.continuity import find_breaks
from gymcheck.errors import RolloutFormatError
from gymcheck.report import NOWHERE, Finding, Location
from gymcheck.rollout import Turn, output_items, trainable_turns

RewardRange = tuple[float, float]

SCHEMA = "schema"
REWARD_INVALID = "reward_invalid"
NO_TRAINABLE_OUTPUT = "no_trainable_output"
EMPTY_GENERATION = "empty_generation"
LOGPROBS_LENGTH_MISMATCH = "logprobs_length_mismatch"
LOGPROBS_INVALID = "logprobs_invalid"
TOKEN_ID_OUT_OF_RANGE = "token_id_out_of_range"

_FIX_TOKEN_FIELDS = (
    "serve through NeMo Gym's vllm_model with return_token_id_information: true (or "
    "vllm_model_for_training), and make the endpoint return prompt/generation token ids and "
    "logprobs (DESIGN.md section 3)"
)


@dataclass(slots=True)
class RecordInspection:
    """What one pass over a record found, kept for the continuity check to reuse."""

    at: Location = NOWHERE
    """Where the record is; every finding of it is created there."""
    findings: list[Finding] = field(default_factory=list)
    turns: list[Turn] | None = None
    """``None`` when the record's shape is too broken to have turns."""
    breaks: list[int | None] = field(default_factory=list)
    """Per turn, the first divergence from the previous turn (``None``: contiguous)."""
    reward: float | None = None

    def add(self, code: str, message: str, **fields: Any) -> None:
        """A finding of this record, at its location."""
        self.findings.append(self.at.finding(code, message, **fields))


def check_record(
    record: Any,
    *,
    reward_range: RewardRange = (0.0, 1.0),
    vocab_size: int | None = None,
) -> list[Finding]:
    """Every record-level finding of ``record`` (all codes but ``continuity_break``)."""
    return inspect_record(record, reward_range=reward_range, vocab_size=vocab_size).findings


def inspect_record(
    record: Any,
    *,
    reward_range: RewardRange = (0.0, 1.0),
    vocab_size: int | None = None,
    raw: bytes | None = None,
    at: Location = NOWHERE,
) -> RecordInspection:
    """``check_record``'s findings plus the turns and breaks; ``raw`` is the JSON line, ``at``
    where the record is (every finding is created there)."""
    found = RecordInspection(at=at)
    if not isinstance(record, Mapping):
        found.add(
            SCHEMA,
            f"the line is a JSON {_json_type(record)}, not a rollout object",
            fix="write one rollout record (a JSON object) per line",
        )
        return found
    found.reward = _check_reward(record, reward_range, found)
    try:
        turns = trainable_turns(record)
    except RolloutFormatError as exc:
        found.add(SCHEMA, str(exc), fix=_FIX_TOKEN_FIELDS)
        return found
    _check_output_items(output_items(record), found)
    if not turns:
        found.add(
            NO_TRAINABLE_OUTPUT,
            "no output item carries prompt_token_ids / generation_token_ids / "
            "generation_log_probs, so nothing in this rollout can be trained on",
            fix=_FIX_TOKEN_FIELDS,
        )
        found.turns = turns
        return found
    breaks = find_breaks(turns, raw)
    bools = raw is None or _bool_in_an_array(raw)
    typed_ok = True
    for turn, divergence in zip(turns, breaks, strict=True):
        previous = turns[turn.number - 2] if turn.number > 1 else None
        previous_length = (
            len(previous.prompt_token_ids) + len(previous.generation_token_ids) if previous else 0
        )
        # Ids before the divergence repeat the previous turn's, which were already checked.
        new_from = previous_length if divergence is None else divergence
        new_from = min(new_from, len(turn.prompt_token_ids))
        ok = _check_ids(turn, new_from, vocab_size, found, bools=bools)
        typed_ok = typed_ok and ok
        _check_generation(turn, found, bools=bools)
    found.turns = turns if typed_ok else None
    found.breaks = breaks
    return found


def _check_output_items(items: Sequence[Any], found: RecordInspection) -> None:
    """Items of ``response.output`` that are not objects: a trainer cannot read them."""
    bad = [index for index, item in enumerate(items) if not isinstance(item, Mapping)]
    if bad:
        first = items[bad[0]]
        found.add(
            SCHEMA,
            f"{len(bad)} of {len(items)} response.output items are not objects; the first "
            f"is response.output[{bad[0]}], a JSON {_json_type(first)} {first!r:.40}",
            fix="write each output item as a Responses-API object (type message, reasoning, "
            "function_call or function_call_output)",
            details={"count": len(bad), "output_index": bad[0]},
        )


def _check_reward(
    record: Mapping[str, Any], reward_range: RewardRange, found: RecordInspection
) -> float | None:
    low, high = reward_range
    fix = (
        f"make the resource server's /verify return a finite number in [{low:g}, {high:g}] "
        "(or pass --reward-range LO,HI if your rewards use another range)"
    )
    if "reward" not in record:
        found.add(REWARD_INVALID, "the record has no 'reward'", fix=fix)
        return None
    reward = record["reward"]
    if isinstance(reward, bool) or not isinstance(reward, int | float):
        found.add(
            REWARD_INVALID,
            f"reward is {_json_type(reward)} {reward!r:.40}, not a number",
            fix=fix,
        )
        return None
    if isinstance(reward, int) and abs(reward) > sys.float_info.max:
        found.add(REWARD_INVALID, f"reward {reward!r:.40}... does not fit a float", fix=fix)
        return None
    if not math.isfinite(reward):
        found.add(REWARD_INVALID, f"reward is {reward}, not finite", fix=fix)
        return None
    if not low <= reward <= high:
        found.add(REWARD_INVALID, f"reward {reward:g} is outside [{low:g}, {high:g}]", fix=fix)
    return float(reward)


MAX_ID_WITHOUT_VOCABULARY = 2**31 - 1
"""Without a tokenizer, ids must still fit the int32 that engines and trainers store them in;
no vocabulary comes near it."""

_INT64_LIMIT = 2**63
"""orjson parses an integer literal beyond 64 bits as a float; such a float is an id that is
out of range, not a fractional one."""


def _bool_in_an_array(raw: bytes) -> bool:
    """Whether a JSON ``true``/``false`` in ``raw`` is an array element (not a member value
    such as ``"strict": true``): only then can an id or logprob list hold a boolean."""
    for literal in (b"true", b"false"):
        at = raw.find(literal)
        while at >= 0:
            before = at - 1
            while before >= 0 and raw[before] in b" \t\r\n":
                before -= 1
            if before >= 0 and raw[before] in b",[":
                return True
            at = raw.find(literal, at + len(literal))
    return False


def _ints_in_range(ids: list[Any], limit: int, *, bools: bool) -> bool:
    """Every element an ``int`` in ``[0, limit)``, by C-level passes: ``sum`` is an int only
    if no float is there (and raises on null or a string), ``min``/``max`` (or the sum, which
    bounds the max of non-negative ids) give the range. ``bools``: a ``true`` may be there,
    which ``sum`` counts as 1, so the element types are collected too."""
    try:
        total = sum(ids)
    except TypeError:
        return False
    if type(total) is not int or (bools and set(map(type, ids)) != {int}):
        return False
    return min(ids) >= 0 and (total < limit or max(ids) < limit)


def _check_ids(
    turn: Turn, new_from: int, vocab_size: int | None, found: RecordInspection, *, bools: bool
) -> bool:
    """Type- and range-check the ids this turn adds; ``False`` when they are not integers."""
    prompt = turn.prompt_token_ids
    limit = vocab_size if vocab_size is not None else MAX_ID_WITHOUT_VOCABULARY + 1
    for name, ids, offset in (
        ("prompt_token_ids", prompt[new_from:] if new_from else prompt, new_from),
        ("generation_token_ids", turn.generation_token_ids, len(prompt)),
    ):
        # Only a list that fails the C-level passes gets a per-element look.
        if not ids or _ints_in_range(ids, limit, bools=bools):
            continue
        for position, token in enumerate(ids):
            if _is_huge_integer(token):
                continue
            if isinstance(token, bool) or not isinstance(token, int):
                index = position + (offset if name == "prompt_token_ids" else 0)
                found.add(
                    SCHEMA,
                    f"{name}[{index}] is {_json_type(token)} {token!r:.40}, "
                    "not an integer token id",
                    turn=turn.number,
                    token_index=offset + position,
                )
                return False
        bad = [(p, t) for p, t in enumerate(ids) if _is_huge_integer(t) or not 0 <= t < limit]
        if bad:
            position, token = bad[0]
            shown = f"{token:.0f}" if isinstance(token, float) else str(token)
            bounds = (
                f"the vocabulary [0, {vocab_size})"
                if vocab_size is not None
                else "[0, 2**31), the int32 range of token ids (no tokenizer given)"
            )
            found.add(
                TOKEN_ID_OUT_OF_RANGE,
                f"{name} holds {len(bad)} id(s) outside {bounds}; "
                f"the first is {shown} at token {offset + position}",
                turn=turn.number,
                token_index=offset + position,
                fix="use the same tokenizer for the check as the inference engine, and "
                "make sure the engine returns ids of that tokenizer",
                details={
                    "field": name,
                    "count": len(bad),
                    # An exact int past 64 bits (from a line only Python's json reads) is shown
                    # as text: JSON writers stop at 64 bits.
                    "token_id": token
                    if isinstance(token, int) and -_INT64_LIMIT <= token < 2**64
                    else shown,
                },
            )
    return True


def _is_huge_integer(token: Any) -> bool:
    return type(token) is float and math.isfinite(token) and abs(token) >= _INT64_LIMIT


def _check_generation(turn: Turn, found: RecordInspection, *, bools: bool) -> None:
    generated = turn.generation_token_ids
    logprobs = turn.generation_log_probs
    if not generated:
        found.add(
            EMPTY_GENERATION,
            f"output item {turn.output_index} ({turn.item_type or 'untyped'}) carries "
            "token fields but generation_token_ids is empty",
            turn=turn.number,
            fix="record the ids the engine generated for this call (an empty "
            "generation gives the trainer nothing to learn from)",
        )
    if len(logprobs) != len(generated):
        found.add(
            LOGPROBS_LENGTH_MISMATCH,
            f"{len(logprobs)} generation_log_probs for {len(generated)} generated ids",
            turn=turn.number,
            fix="return exactly one logprob per generated token (request logprobs: true, "
            "top_logprobs: 0)",
            details={"logprobs": len(logprobs), "generated": len(generated)},
        )
    if logprobs and not _logprobs_look_valid(logprobs, bools=bools):
        _report_bad_logprobs(turn, logprobs, found)


def _logprobs_look_valid(logprobs: Sequence[Any], *, bools: bool) -> bool:
    # One C-level pass each: a NaN or inf makes the sum non-finite, a null or string raises;
    # a boolean (counted as 0 or 1) only shows in the element types, collected when possible.
    try:
        return (
            math.isfinite(sum(logprobs))
            and max(logprobs) <= 0
            and not (bools and not set(map(type, logprobs)) <= _NUMBER_TYPES)
        )
    except (TypeError, OverflowError):  # OverflowError: an integer past a float's range
        return False


_NUMBER_TYPES = {float, int}


def _report_bad_logprobs(turn: Turn, logprobs: Sequence[Any], found: RecordInspection) -> None:
    bad: list[tuple[int, str]] = []
    for position, value in enumerate(logprobs):
        if value is None:
            bad.append((position, "null"))
        elif isinstance(value, bool) or not isinstance(value, int | float):
            bad.append((position, f"{_json_type(value)} {value!r:.20}"))
        elif isinstance(value, int) and abs(value) > sys.float_info.max:
            bad.append((position, f"{value!r:.20}... (past a float's range)"))
        elif math.isnan(value):
            bad.append((position, "NaN"))
        elif math.isinf(value):
            bad.append((position, str(value)))
        elif value > 0:
            bad.append((position, f"{value:g} > 0"))
    if not bad:
        return
    position, what = bad[0]
    found.add(
        LOGPROBS_INVALID,
        f"{len(bad)} of {len(logprobs)} generation_log_probs are invalid; the first is "
        f"generation_log_probs[{position}] = {what}",
        turn=turn.number,
        token_index=len(turn.prompt_token_ids) + position,
        fix="return the sampled token's logprob (a finite number <= 0) for every generated token",
        details={"count": len(bad), "generation_index": position},
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
