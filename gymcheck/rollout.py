"""The NeMo Gym rollout record: its trainable turns and the message_log a trainer builds.

A record is one JSONL line of NeMo Gym's rollout collection: the task row plus ``response``
(a Responses-API object) and ``reward``. For each model call, the last output item it produced
carries ``prompt_token_ids``, ``generation_token_ids`` and ``generation_log_probs``; tool
outputs never do. Items of any type (``message``, ``function_call``, ``reasoning``) may.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gymcheck.errors import RolloutFormatError

PROMPT_IDS = "prompt_token_ids"
GENERATION_IDS = "generation_token_ids"
GENERATION_LOGPROBS = "generation_log_probs"
TOKEN_FIELDS = (PROMPT_IDS, GENERATION_IDS, GENERATION_LOGPROBS)

Record = Mapping[str, Any]


class ContinuityError(RolloutFormatError):
    """A turn's prompt does not extend the previous prompt + generation."""

    def __init__(self, turn: int, token_index: int) -> None:
        super().__init__(
            f"turn {turn}: prompt_token_ids do not extend the previous prompt + generation "
            f"(first difference at token {token_index})"
        )
        self.turn = turn
        self.token_index = token_index


@dataclass(frozen=True, slots=True)
class Turn:
    """One model call of a rollout: the output item that carries its token data."""

    number: int
    """1-based index among the trainable items of the record."""
    output_index: int
    """Position of the item in ``response.output``."""
    item_type: str
    prompt_token_ids: list[int]
    generation_token_ids: list[int]
    generation_log_probs: list[Any]

    @property
    def full_token_ids(self) -> list[int]:
        """What the next turn's prompt must start with."""
        return self.prompt_token_ids + self.generation_token_ids


def output_items(record: Record) -> list[Any]:
    """``response.output`` of a record, or ``RolloutFormatError`` when the shape is wrong."""
    if not isinstance(record, Mapping):
        raise RolloutFormatError(f"record is a {type(record).__name__}, not a JSON object")
    response = record.get("response")
    if not isinstance(response, Mapping):
        raise RolloutFormatError("record has no 'response' object")
    output = response.get("output")
    if not isinstance(output, list):
        raise RolloutFormatError("'response.output' is not a list")
    return output


def carries_token_data(item: Any) -> bool:
    return isinstance(item, Mapping) and any(key in item for key in TOKEN_FIELDS)


def trainable_turns(record: Record) -> list[Turn]:
    """The output items that carry token data, in order, as ``Turn`` objects.

    Field types are checked shallowly (lists); element-level validation is the record checks'.
    """
    turns: list[Turn] = []
    for output_index, item in enumerate(output_items(record)):
        if not carries_token_data(item):
            continue
        fields = []
        for key in TOKEN_FIELDS:
            value = item.get(key)
            if not isinstance(value, list):
                got = "missing" if value is None else type(value).__name__
                raise RolloutFormatError(
                    f"output item {output_index} ({item.get('type')}): '{key}' is {got}, "
                    "expected a list"
                )
            fields.append(value)
        turns.append(
            Turn(
                number=len(turns) + 1,
                output_index=output_index,
                item_type=str(item.get("type", "")),
                prompt_token_ids=fields[0],
                generation_token_ids=fields[1],
                generation_log_probs=fields[2],
            )
        )
    return turns


def first_divergence(expected: Sequence[int], actual: Sequence[int]) -> int | None:
    """Index of the first position where ``actual`` stops extending ``expected``.

    ``None`` when ``actual`` starts with all of ``expected``.
    """
    n = len(expected)
    if len(actual) >= n and actual[:n] == expected:
        return None
    limit = min(n, len(actual))
    for i in range(limit):
        if expected[i] != actual[i]:
            return i
    return limit


def to_message_log(record: Record) -> list[dict[str, Any]]:
    """The NeMo RL-style message_log of a record.

    Non-trainable entries hold each turn's new prompt slice; trainable entries hold that turn's
    generated ids and ``generation_logprobs``. Concatenating every ``token_ids`` gives the full
    sequence. Raises ``ContinuityError`` when a turn does not extend the one before it, since no
    single sequence then holds the whole episode.
    """
    message_log: list[dict[str, Any]] = []
    seen: list[int] = []
    for turn in trainable_turns(record):
        divergence = first_divergence(seen, turn.prompt_token_ids)
        if divergence is not None:
            raise ContinuityError(turn.number, divergence)
        message_log.append(
            {"role": "user", "token_ids": turn.prompt_token_ids[len(seen) :], "trainable": False}
        )
        message_log.append(
            {
                "role": "assistant",
                "token_ids": list(turn.generation_token_ids),
                "trainable": True,
                "generation_logprobs": list(turn.generation_log_probs),
            }
        )
        seen = turn.full_token_ids
    return message_log


@dataclass(frozen=True, slots=True)
class TrainingSequence:
    """The flat sequence a trainer sees: ids, a loss mask, and the engine's logprobs."""

    token_ids: list[int]
    loss_mask: list[int]
    """1 exactly on generated tokens."""
    generation_logprobs: list[float | None]
    """The engine's logprob at each generated position, ``None`` elsewhere."""


def to_training_sequence(message_log: Sequence[Mapping[str, Any]]) -> TrainingSequence:
    """The ``message_log`` concatenated: token ids, the loss mask and the engine log-probs."""
    token_ids: list[int] = []
    loss_mask: list[int] = []
    logprobs: list[float | None] = []
    for message in message_log:
        ids = list(message["token_ids"])
        token_ids.extend(ids)
        if message.get("trainable"):
            loss_mask.extend([1] * len(ids))
            generated = message.get("generation_logprobs") or [None] * len(ids)
            if len(generated) != len(ids):
                # Padding or cutting would silently misalign every later logprob.
                raise RolloutFormatError(
                    f"a trainable entry has {len(ids)} token_ids but {len(generated)} "
                    "generation_logprobs"
                )
            logprobs.extend(generated)
        else:
            loss_mask.extend([0] * len(ids))
            logprobs.extend([None] * len(ids))
    return TrainingSequence(token_ids, loss_mask, logprobs)
