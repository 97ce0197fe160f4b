"""Training the reference model: the synthetic episodes as (ids, labels), and a short run.

Part of the build recipe in ``model.py`` (its constants go into the cache key).
"""

from __future__ import annotations

import logging
import math
import random
import re
from typing import TYPE_CHECKING, Any

from gymcheck.reference.episodes import make_episodes
from gymcheck.reference.model import (
    BATCH_SIZE,
    EOS_TOKEN,
    LEARNING_RATE,
    MODEL_CONFIG,
    PAD_TOKEN,
    SEED,
    SPLIT_RATE,
    TRAIN_EPISODES,
    TRAIN_STEPS,
    WARMUP_STEPS,
    render_episode,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

logger = logging.getLogger("gymcheck.reference.model")


def _prose_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of reasoning and answer text (not tool calls, not template markup)."""
    spans = []
    for match in re.finditer(r"<think>\n(.*?)\n</think>\n\n(.*?)<\|im_end\|>", text, re.DOTALL):
        spans.append(match.span(1))
        if "<tool_call>" not in match.group(2):
            spans.append(match.span(2))
    return spans


def _split_some_tokens(
    tokenizer: PreTrainedTokenizerFast,
    ids: list[int],
    offsets: list[tuple[int, int]],
    prose: list[tuple[int, int]],
    rng: random.Random,
) -> tuple[list[int], list[tuple[int, int]]]:
    """Write some prose tokens as two pieces: same text, not the canonical ids.

    A model trained on this samples such splits itself, at temperature 1, which is what the
    ``retokenize`` fault needs to be visible (a re-tokenized history differs in its ids).
    """
    out_ids: list[int] = []
    out_offsets: list[tuple[int, int]] = []
    for token, (lo, hi) in zip(ids, offsets, strict=True):
        if (
            hi - lo >= 2
            and any(b <= lo and hi <= e for b, e in prose)
            and rng.random() < SPLIT_RATE
        ):
            text = tokenizer.decode([token])
            cut = rng.randint(1, max(1, len(text) - 1))
            pieces = tokenizer.encode(text[:cut], add_special_tokens=False) + tokenizer.encode(
                text[cut:], add_special_tokens=False
            )
            if len(pieces) > 1 and tokenizer.decode(pieces) == text:
                out_ids += pieces
                out_offsets += [(lo, hi)] * len(pieces)
                continue
        out_ids.append(token)
        out_offsets.append((lo, hi))
    return out_ids, out_offsets


def _training_examples(tokenizer: PreTrainedTokenizerFast) -> list[tuple[list[int], list[int]]]:
    """(ids, labels) per episode; labels are -100 outside the assistant's generations."""
    start_marker = "<|im_start|>assistant\n"
    rng = random.Random(SEED + 3)
    examples = []
    for messages, tools in make_episodes(SEED + 2, TRAIN_EPISODES):
        text = render_episode(messages, tools)
        spans = []
        pos = text.find(start_marker)
        while pos >= 0:
            begin = pos + len(start_marker)
            end = text.index(EOS_TOKEN, begin) + len(EOS_TOKEN)
            spans.append((begin, end))
            pos = text.find(start_marker, end)
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = _split_some_tokens(
            tokenizer, encoded["input_ids"], encoded["offset_mapping"], _prose_spans(text), rng
        )
        labels = [
            token if any(b <= lo and hi <= e for b, e in spans) else -100
            for token, (lo, hi) in zip(ids, offsets, strict=True)
        ]
        examples.append((ids, labels))
    return examples


def train_model(tokenizer: PreTrainedTokenizerFast) -> tuple[Any, float]:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(SEED)
    random.seed(SEED)
    eos_id = int(tokenizer.convert_tokens_to_ids(EOS_TOKEN))  # type: ignore[arg-type]
    pad_id = int(tokenizer.convert_tokens_to_ids(PAD_TOKEN))  # type: ignore[arg-type]
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        **MODEL_CONFIG,
    )
    config.dtype = torch.float32
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = pad_id
    model.generation_config.bos_token_id = None

    examples = _training_examples(tokenizer)
    rng = random.Random(SEED)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)

    def lr_at(step: int) -> float:
        if step < WARMUP_STEPS:
            return (step + 1) / WARMUP_STEPS
        progress = (step - WARMUP_STEPS) / max(1, TRAIN_STEPS - WARMUP_STEPS)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    model.train()
    loss_value = float("nan")
    for _step in range(TRAIN_STEPS):
        batch = rng.sample(examples, BATCH_SIZE)
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((BATCH_SIZE, width), pad_id, dtype=torch.long)
        labels = torch.full((BATCH_SIZE, width), -100, dtype=torch.long)
        for row, (ids, labs) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, : len(labs)] = torch.tensor(labs)
        # Right padding under a causal mask: real tokens never see the pads, so no mask needed
        # (and SDPA keeps its fast causal path).
        logits = model(input_ids=input_ids).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]),
            labels[:, 1:].reshape(-1),
            ignore_index=-100,
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        loss_value = float(loss.detach())
        if _step % 20 == 0:
            logger.info("step %d loss %.4f", _step, loss_value)
    model.eval()
    return model, loss_value
