"""The embedded stack's trainer side: its rollouts processed the way NeMo RL processes them.

``gymcheck validate`` on the embedded stack is a miniature of the whole system, trainer
included: when no ``--processor`` is given, this is the processor under test. A rollout becomes
NeMo RL's message_log (prompt slices not trained, generations trained with their engine
log-probs); one that breaks continuity becomes one message_log per turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gymcheck.errors import GymcheckError
from gymcheck.rollout import ContinuityError, to_message_log, trainable_turns

LABEL = "the reference stack's processor (NeMo RL message_log)"


def process(record: Mapping[str, Any], tokenizer: Any = None) -> Any:
    """NeMo RL-style samples of ``record``; ``None`` for a rollout with nothing to train."""
    try:
        turns = [t for t in trainable_turns(record) if t.generation_token_ids]
        if not turns:
            return None
        try:
            return {"message_log": to_message_log(record), "reward": record.get("reward")}
        except ContinuityError:
            return [
                {
                    "message_log": [
                        {"role": "user", "token_ids": t.prompt_token_ids},
                        {
                            "role": "assistant",
                            "token_ids": t.generation_token_ids,
                            "generation_logprobs": t.generation_log_probs,
                        },
                    ],
                    "reward": record.get("reward"),
                }
                for t in turns
            ]
    except GymcheckError:
        return None  # a malformed record: the record checks report it
