"""The fault layer: real integration bugs the demo and tests plant by name.

Each fault lives in one layer of the stack and names the check that must catch it. In the
suite's order, every check before that one still passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Layer = Literal["server", "agent", "resource"]


class Fault(StrEnum):
    RETOKENIZE = "retokenize"
    STRIP_REASONING = "strip-reasoning"
    DROP_TOKEN_IDS = "drop-token-ids"
    TRUNCATE_HISTORY = "truncate-history"
    BAD_LOGPROBS = "bad-logprobs"
    TOP_LOGPROBS_NULL = "top-logprobs-null"
    REWARD_OUT_OF_RANGE = "reward-out-of-range"


@dataclass(frozen=True, slots=True)
class FaultInfo:
    fault: Fault
    layer: Layer
    caught_by: str
    """The check id that must fail."""
    description: str


FAULTS: dict[Fault, FaultInfo] = {
    info.fault: info
    for info in (
        FaultInfo(
            Fault.RETOKENIZE,
            "agent",
            "token_continuity",
            "the agent sends earlier turns back as text, so the server re-tokenizes them",
        ),
        FaultInfo(
            Fault.STRIP_REASONING,
            "agent",
            "token_continuity",
            "earlier turns' reasoning is dropped when the history is re-rendered",
        ),
        FaultInfo(
            Fault.DROP_TOKEN_IDS,
            "server",
            "http_endpoint",
            "the server omits prompt/generation token ids and logprobs",
        ),
        FaultInfo(
            Fault.TRUNCATE_HISTORY,
            "agent",
            "token_continuity",
            "the agent drops the oldest turns of the history before each model call",
        ),
        FaultInfo(
            Fault.BAD_LOGPROBS,
            "server",
            "http_endpoint",
            "the server returns one logprob fewer than the generated tokens",
        ),
        FaultInfo(
            Fault.TOP_LOGPROBS_NULL,
            "server",
            "http_endpoint",
            "with top_logprobs: null the server silently returns no token ids",
        ),
        FaultInfo(
            Fault.REWARD_OUT_OF_RANGE,
            "resource",
            "rollout_collection",
            "the resource server's /verify returns rewards outside [0, 1]",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class ServerFaults:
    """Where the model server departs from the contract under a planted server fault; with
    ``fault=None`` (or a fault of another layer) it serves a healthy endpoint."""

    fault: Fault | None = None

    @property
    def accepts_null_top_logprobs(self) -> bool:
        return self.fault is Fault.TOP_LOGPROBS_NULL

    def reported_logprobs(self, logprobs: list[float]) -> list[float]:
        return logprobs[:-1] if self.fault is Fault.BAD_LOGPROBS else logprobs

    def omits_token_ids(self, *, null_top_logprobs: bool) -> bool:
        if self.fault is Fault.DROP_TOKEN_IDS:
            return True
        return self.fault is Fault.TOP_LOGPROBS_NULL and null_top_logprobs


def parse_fault(name: str | None) -> Fault | None:
    """The fault named ``name`` (``None`` for none); ``ValueError`` lists the known names."""
    if name is None:
        return None
    try:
        return Fault(name)
    except ValueError:
        known = ", ".join(f.value for f in Fault)
        raise ValueError(f"unknown fault {name!r}; known faults: {known}") from None
