"""The fault layer: real integration bugs the demo and tests plant by name.

Each fault lives in one layer of the stack and names the check that must catch it. In the
suite's order, every check before that one still passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

Layer = Literal["server", "agent", "resource", "trainer"]


class Fault(StrEnum):
    RETOKENIZE = "retokenize"
    STRIP_REASONING = "strip-reasoning"
    DROP_TOKEN_IDS = "drop-token-ids"
    TRUNCATE_HISTORY = "truncate-history"
    BAD_LOGPROBS = "bad-logprobs"
    TOP_LOGPROBS_NULL = "top-logprobs-null"
    REWARD_OUT_OF_RANGE = "reward-out-of-range"
    WRONG_TOKENIZER = "wrong-tokenizer"
    DETACHED_PARAMETER = "detached-parameter"
    PROCESSED_LOGPROBS = "processed-logprobs"


FORCED_TEMPERATURE = 0.6
"""What ``processed-logprobs`` samples at (Qwen3's generation_config default)."""


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
        FaultInfo(
            Fault.WRONG_TOKENIZER,
            "server",
            "token_roundtrip",
            "the model is served with a tokenizer that is not its own (the same vocabulary, "
            "configured with add_prefix_space), so decoded text re-encodes to other ids",
        ),
        FaultInfo(
            Fault.DETACHED_PARAMETER,
            "trainer",
            "gradient_flow",
            "the training model uses its final norm's weight detached, so that parameter "
            "never gets a gradient",
        ),
        FaultInfo(
            Fault.PROCESSED_LOGPROBS,
            "server",
            "logprob_agreement",
            f"the server samples at temperature {FORCED_TEMPERATURE:g} whatever the request "
            "asks, and reports the processed log-probs of that temperature",
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

    def sampling_temperature(self, requested: float) -> float:
        if self.fault is Fault.PROCESSED_LOGPROBS and requested > 0:
            return FORCED_TEMPERATURE
        return requested


def serve_with_wrong_tokenizer(model_dir: Path, into: Path) -> Path:
    """``into``, holding the model in ``model_dir`` with a tokenizer that is not its own: the
    same files, but a tokenizer config with ``add_prefix_space`` (as GPT-2-style ones have)."""
    into.mkdir(parents=True, exist_ok=True)
    for entry in Path(model_dir).iterdir():
        if entry.name != "tokenizer_config.json":
            (into / entry.name).symlink_to(entry.resolve())
    config = json.loads((Path(model_dir) / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["add_prefix_space"] = True
    (into / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return into


DETACHED_PARAMETER_MODEL = "gymcheck.reference.faults:detached_parameter_model"
"""The training model under ``detached-parameter``, as a ``module:factory`` path."""


def detached_parameter_model() -> Any:
    """The reference model whose final norm uses its weight through ``.detach()``: the weight
    still requires a gradient and is in the optimizer, but the loss never reaches it."""
    import torch
    from torch.nn.utils import parametrize
    from transformers import AutoModelForCausalLM

    from gymcheck.loading import load_tokenizer
    from gymcheck.reference.model import ensure_reference_model

    class Detached(torch.nn.Module):
        def forward(self, weight: torch.Tensor) -> torch.Tensor:
            return weight.detach()

    model_dir = ensure_reference_model()
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    parametrize.register_parametrization(model.model.norm, "weight", Detached())
    return model, load_tokenizer(model_dir)
