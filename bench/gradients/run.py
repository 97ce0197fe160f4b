"""Tokens/s of ``logprob_agreement``'s recompute on the CPU, against a plain forward baseline.

The model is a random Qwen2 built in memory from a config (no download). The rollouts are
two-turn NeMo Gym records over random ids, their ``generation_log_probs`` computed by the same
model, so the check passes and runs its full path. Measured in the same process:

- baseline: for each trainable turn's full sequence, ``model(input_ids).logits``, then
  log_softmax + gather at the generated positions (what any trainer must do, nothing more);
- check: ``measure_logprob_agreement`` + ``agreement_result`` (records -> message_log ->
  training sequence, forward, per-token bookkeeping, metrics, worst tokens).

Each figure is the median of ``--repeats`` runs, taken alternately. Tokens = generated
tokens scored.

    python bench/gradients/run.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gymcheck.checks.logprobs import agreement_result, measure_logprob_agreement
from gymcheck.training import TrainModel, build_samples, next_token_logprobs


def build_model(args: argparse.Namespace) -> TrainModel:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 3,
        num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 64,
        num_key_value_heads=args.hidden // 64,
        head_dim=64,
        max_position_embeddings=args.prompt + 2 * args.generated + 64,
    )
    return TrainModel(Qwen2ForCausalLM(config).eval(), None, "bench-qwen2", "float32", True)


def make_records(model: TrainModel, args: argparse.Namespace) -> list[dict]:
    generator = torch.Generator().manual_seed(1)
    records = []
    for k in range(args.rollouts):
        ids = torch.randint(
            0, args.vocab, (args.prompt + 2 * args.generated + 8,), generator=generator
        )
        ids = ids.tolist()
        p1 = args.prompt
        g1 = p1 + args.generated
        p2 = g1 + 8  # a tool-result slice
        with torch.no_grad():
            logits = model.logits(torch.tensor([ids]))[0]
            lp = next_token_logprobs(logits, torch.tensor(ids)).tolist()  # lp[t-1] scores t
        turns = [(ids[:p1], ids[p1:g1], lp[p1 - 1 : g1 - 1]), (ids[:p2], ids[p2:], lp[p2 - 1 :])]
        output = [
            {
                "type": "message",
                "prompt_token_ids": p,
                "generation_token_ids": g,
                "generation_log_probs": logprobs,
            }
            for p, g, logprobs in turns
        ]
        records.append({"response": {"output": output}, "reward": float(k % 2)})
    return records


def baseline(model: TrainModel, records: list[dict]) -> int:
    """A plain forward over each sequence + the generated tokens' log-probs; tokens scored."""
    scored = 0
    for sample in build_samples(records).samples:
        device = model.device
        ids = torch.tensor([sample.sequence.token_ids], device=device)
        spans = [i for span in sample.spans for i in range(span.start, span.end)]
        positions = torch.tensor(spans, device=device)
        with torch.no_grad():
            logits = model.module(input_ids=ids, use_cache=False).logits[0]
            rows = torch.log_softmax(logits[positions - 1].float(), dim=-1)
            rows.gather(-1, ids[0, positions].unsqueeze(-1)).tolist()  # waits for the device
        scored += positions.numel()
    return scored


def check(model: TrainModel, records: list[dict]) -> int:
    agreement = measure_logprob_agreement(records, model)
    result = agreement_result(agreement)
    assert result.status.value == "pass", result.summary
    return agreement.n_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--generated", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = build_model(args)
    model.module.to(args.device)
    records = make_records(model, args)
    check(model, records[:1])  # warm-up
    times: dict[str, list[float]] = {"baseline": [], "check": []}
    tokens: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, run in (("baseline", baseline), ("check", check)):
            started = time.perf_counter()
            tokens[name] = run(model, records)
            times[name].append(time.perf_counter() - started)
    params = sum(p.numel() for p in model.module.parameters())
    print(
        f"model: Qwen2 {params / 1e6:.1f}M params, vocab {args.vocab}, {args.layers} layers, "
        f"hidden {args.hidden}; {args.rollouts} rollouts x 2 turns, prompt {args.prompt}, "
        f"{args.generated} generated per turn; {args.device}, torch threads {args.threads}; "
        f"median of {args.repeats}"
    )
    print("| run | median s | tokens | tokens/s |")
    print("|---|---:|---:|---:|")
    medians = {}
    for name in ("baseline", "check"):
        medians[name] = statistics.median(times[name])
        rate = tokens[name] / medians[name]
        label = "plain forward + gather (baseline)" if name == "baseline" else "logprob_agreement"
        print(f"| {label} | {medians[name]:.3f} | {tokens[name]:,} | {rate:,.0f} |")
    print(f"check / baseline time: {medians['check'] / medians['baseline']:.2f}x")


if __name__ == "__main__":
    main()
