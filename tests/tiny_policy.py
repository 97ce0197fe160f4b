"""A tiny Qwen2 policy built offline, and real rollouts sampled from it.

The tokenizer is a byte-level BPE trained here on a few sentences; the model is a randomly
initialized 2-layer Qwen2 (seed fixed). Rollouts are sampled token by token with
``torch.multinomial`` at a temperature, recording each token's log-prob under the tempered
distribution, the way an inference engine reports processed log-probs. Records follow NeMo
Gym's format: a tool call turn, the tool output, then a final message turn whose prompt is the
first prompt + generation + the tool result slice.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CORPUS = [
    "What is the weather in Paris? It is sunny and 21 degrees.",
    "Call get_weather with the city name, then answer briefly.",
    '{"name": "get_weather", "arguments": {"city": "nyc"}}',
    "The temperature in Tokyo is 12 degrees and it is raining.",
    "You are a helpful assistant. Use the tools when needed.",
]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QUESTIONS = [
    "What is the weather in Paris?",
    "Is it raining in Tokyo?",
    "How warm is it in Lima?",
    "Weather for Oslo, please.",
]


@functools.lru_cache(maxsize=1)
def tiny_policy_dir() -> Path:
    """The tiny policy, built once per test process into a temporary directory."""
    import torch

    torch.set_num_threads(1)  # the model is tiny; thread hand-offs cost more than the math
    directory = Path(tempfile.mkdtemp(prefix="gymcheck-tiny-policy-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return build_tiny_policy(directory)


def build_tiny_policy(directory: Path, *, seed: int = 0) -> Path:
    """Write a tokenizer and a random tiny Qwen2 to ``directory``; return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.save_pretrained(directory)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=512,
        tie_word_embeddings=False,
    )
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():  # spread the logits so sampling is not uniform noise
        model.lm_head.weight.mul_(40.0)
    model.save_pretrained(directory)
    return directory


def encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def sample_tokens(
    model: Any,
    prompt: list[int],
    count: int,
    *,
    temperature: float,
    generator: Any,
    top_k: int | None = None,
    report: str = "processed",
    grammar: Callable[[int], Sequence[int] | None] | None = None,
) -> tuple[list[int], list[float]]:
    """``count`` tokens sampled at ``temperature`` (and ``top_k``), each with a log-prob.

    ``report="processed"`` records the log-prob under the distribution sampled from (tempered,
    top-k renormalized); ``"raw"`` records it under the untouched logits, like vLLM's default.
    ``grammar(step)`` returns the token ids a constrained decoder allows at that step (``None``:
    any), masked before sampling, as structured outputs do.
    """
    import torch

    ids = list(prompt)
    generated, logprobs = [], []
    with torch.no_grad():
        for _ in range(count):
            logits = model.logits(torch.tensor([ids]))[0, -1].float()
            scaled = logits / temperature
            if top_k is not None:
                kth = torch.topk(scaled, top_k).values[-1]
                scaled = scaled.masked_fill(scaled < kth, float("-inf"))
            allowed = grammar(len(generated)) if grammar is not None else None
            if allowed is not None:
                keep = torch.full_like(scaled, float("-inf"))
                keep[list(allowed)] = 0.0
                scaled = scaled + keep
            processed = torch.log_softmax(scaled, dim=-1)
            token = int(torch.multinomial(processed.exp(), 1, generator=generator))
            raw = torch.log_softmax(logits, dim=-1)
            generated.append(token)
            logprobs.append(float((processed if report == "processed" else raw)[token]))
            ids.append(token)
    return generated, logprobs


def sample_record(
    model: Any,
    tokenizer: Any,
    question: str,
    *,
    temperature: float = 1.0,
    seed: int = 0,
    tokens_per_turn: int = 12,
    reward: float = 1.0,
    **sampling: Any,
) -> dict[str, Any]:
    """A two-turn NeMo Gym rollout record sampled from ``model`` (a ``TrainModel``)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    prompt1 = encode(tokenizer, f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n")
    gen1, lp1 = sample_tokens(
        model, prompt1, tokens_per_turn, temperature=temperature, generator=generator, **sampling
    )
    tool_result = json.dumps({"city": "paris", "temp_c": 21})
    prompt2 = (
        prompt1
        + gen1
        + encode(tokenizer, f"<|im_end|>\n<|im_start|>tool\n{tool_result}<|im_end|>\n")
        + encode(tokenizer, "<|im_start|>assistant\n")
    )
    gen2, lp2 = sample_tokens(
        model, prompt2, tokens_per_turn, temperature=temperature, generator=generator, **sampling
    )
    return {
        "responses_create_params": {"input": [{"role": "user", "content": question}]},
        "response": {
            "output": [
                {
                    "type": "function_call",
                    "name": "get_weather",
                    "arguments": tokenizer.decode(gen1),
                    "call_id": "call_1",
                    "prompt_token_ids": prompt1,
                    "generation_token_ids": gen1,
                    "generation_log_probs": lp1,
                },
                {"type": "function_call_output", "call_id": "call_1", "output": tool_result},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": tokenizer.decode(gen2)}],
                    "prompt_token_ids": prompt2,
                    "generation_token_ids": gen2,
                    "generation_log_probs": lp2,
                },
            ]
        },
        "reward": reward,
    }


def sample_records(
    model: Any, tokenizer: Any, *, temperature: float = 1.0, count: int = 4, **kwargs: Any
) -> list[dict[str, Any]]:
    return [
        sample_record(
            model,
            tokenizer,
            QUESTIONS[k % len(QUESTIONS)],
            temperature=temperature,
            seed=k,
            reward=float(k % 2),
            **kwargs,
        )
        for k in range(count)
    ]


VOCAB = 64


def _bigram(unused_parameter: bool = False) -> Any:
    import torch

    class BigramLM(torch.nn.Module):
        """A plain causal LM: each position's logits depend on its own token only."""

        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(VOCAB, 16)
            self.head = torch.nn.Linear(16, VOCAB)
            if unused_parameter:
                self.forgotten = torch.nn.Linear(16, 16)  # never called in forward

        def forward(self, input_ids: Any) -> Any:
            return self.head(torch.tanh(self.embed(input_ids))) * 3.0

    torch.manual_seed(1)
    return BigramLM()


def bigram_factory() -> Any:
    """``module:factory`` target: a plain torch.nn.Module, no tokenizer."""
    return _bigram()


def bigram_with_unused_parameter() -> Any:
    return _bigram(unused_parameter=True)


def bigram_records(model: Any, count: int = 3, temperature: float = 1.0) -> list[dict[str, Any]]:
    """Two-turn records over raw ids (no tokenizer) sampled from a plain module."""
    import torch

    records = []
    for k in range(count):
        generator = torch.Generator().manual_seed(100 + k)
        prompt1 = [1, 2, 3 + k]
        gen1, lp1 = sample_tokens(model, prompt1, 6, temperature=temperature, generator=generator)
        prompt2 = [*prompt1, *gen1, 7, 8]
        gen2, lp2 = sample_tokens(model, prompt2, 6, temperature=temperature, generator=generator)
        turns = [(prompt1, gen1, lp1), (prompt2, gen2, lp2)]
        output = [
            {
                "type": "message",
                "prompt_token_ids": p,
                "generation_token_ids": g,
                "generation_log_probs": lp,
            }
            for p, g, lp in turns
        ]
        records.append({"response": {"output": output}, "reward": float(k)})
    return records
