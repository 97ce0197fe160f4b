"""Sampling from a Hugging Face causal LM, one request at a time, with the log-probs of each token.

Log-probs are those of the sampled token under the distribution the sampler drew from after
temperature scaling (``log_softmax(logits / T)``) and before top-p truncation, which is what a
trainer that divides its logits by the same temperature recomputes. With ``temperature == 0``
decoding is greedy and the log-probs are those of the unscaled logits (T = 1).

With ``tool_choice: "required"`` the sampler is constrained, as vLLM's guided decoding is: after
the reasoning it must write a ``<tool_call>`` block whose JSON names one of the offered tools
and passes its arguments as an object (see ``constrained.py``).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymcheck.loading import load_tokenizer, quiet_transformers


@dataclass(frozen=True, slots=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    top_logprobs: int = 0
    tool_names: tuple[str, ...] | None = None
    """Constrain the output to a call of one of these tools (``tool_choice: "required"``)."""


@dataclass(slots=True)
class Generation:
    token_ids: list[int]
    logprobs: list[float]
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)
    finish_reason: str = "stop"


class Engine:
    """A tokenizer and a causal LM on the CPU; ``generate`` is safe to call from many threads."""

    def __init__(self, model_dir: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        quiet_transformers()
        self.model_dir = Path(model_dir)
        self.tokenizer = load_tokenizer(str(self.model_dir))
        self.model = AutoModelForCausalLM.from_pretrained(
            str(self.model_dir), dtype=torch.float32, local_files_only=True
        )
        self.model.eval()
        self._lock = threading.Lock()
        self.eos_token_ids = self._stop_ids()
        self.vocab_size = int(self.model.get_output_embeddings().weight.shape[0])

    def _stop_ids(self) -> frozenset[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, list):
                ids.update(i for i in source if isinstance(i, int))
        return frozenset(ids)

    @property
    def eos_token_id(self) -> int:
        eos = self.tokenizer.eos_token_id
        return eos if isinstance(eos, int) else min(self.eos_token_ids)

    def render(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        *,
        add_generation_prompt: bool,
    ) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            list(messages),
            tools=list(tools) if tools else None,
            add_generation_prompt=add_generation_prompt,
            tokenize=False,
        )
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))

    def generate(self, prompt_ids: Sequence[int], params: SamplingParams) -> Generation:
        with self._lock:
            return self._generate(list(prompt_ids), params)

    def _generate(self, prompt_ids: list[int], params: SamplingParams) -> Generation:
        import torch

        from gymcheck.reference.constrained import ToolCallConstraint

        generator = torch.Generator()
        generator.manual_seed(
            params.seed if params.seed is not None else int(torch.seed() % (2**63))
        )
        constraint = (
            ToolCallConstraint(self.tokenizer, params.tool_names, eos_ids=self.eos_token_ids)
            if params.tool_names
            else None
        )
        result = Generation([], [])
        past = None
        next_input = torch.tensor([prompt_ids], dtype=torch.long)
        with torch.inference_mode():
            for _ in range(params.max_tokens):
                with warnings.catch_warnings():
                    # transformers 5.2x renames past_key_values; the old name works everywhere.
                    warnings.simplefilter("ignore", FutureWarning)
                    out = self.model(input_ids=next_input, past_key_values=past, use_cache=True)
                past = out.past_key_values
                model_logits = out.logits[0, -1].float()[: self.vocab_size]
                allowed = model_logits if constraint is None else constraint.mask(model_logits)
                token, logprob, top = _sample(allowed, model_logits, params, generator)
                result.token_ids.append(token)
                result.logprobs.append(logprob)
                if params.top_logprobs:
                    result.top_logprobs.append(top)
                if constraint is not None:
                    constraint.advance(token)
                if token in self.eos_token_ids:
                    return result
                next_input = torch.tensor([[token]], dtype=torch.long)
        result.finish_reason = "length"
        return result


def _sample(
    allowed_logits: Any, model_logits: Any, params: SamplingParams, generator: Any
) -> tuple[int, float, list[tuple[int, float]]]:
    """Sample from ``allowed_logits`` (the grammar applied); report the model's log-probs.

    The reported log-probs come from ``model_logits`` after temperature, before top-p and the
    tool-call grammar: what a trainer recomputes from the same weights, as vLLM reports too.
    """
    import torch

    greedy = params.temperature <= 0
    temperature = 1.0 if greedy else params.temperature
    logprobs = torch.log_softmax(model_logits / temperature, dim=-1)
    sampling = torch.log_softmax(allowed_logits / temperature, dim=-1)
    if greedy:
        token = int(torch.argmax(sampling))
    else:
        probs = sampling.exp()
        if params.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_probs, 0) - sorted_probs < params.top_p
            keep[0] = True
            truncated = torch.zeros_like(probs)
            truncated[order[keep]] = probs[order[keep]]
            probs = truncated
        token = int(torch.multinomial(probs, 1, generator=generator))
    top: list[tuple[int, float]] = []
    if params.top_logprobs:
        values, indices = torch.topk(logprobs, params.top_logprobs)
        top = [(int(i), float(v)) for i, v in zip(indices, values, strict=True)]
    return token, float(logprobs[token]), top
