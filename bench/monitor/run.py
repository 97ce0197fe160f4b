"""Cost of ``gymcheck.monitor.check_batch`` per training step, next to the cost of turning the
same batch into torch tensors (which every trainer pays anyway), measured in the same run.

The batch: ``--rollouts`` contiguous multi-turn tool-calling rollouts of about ``--tokens``
tokens each (bench/rollouts/generate.py's records), and the samples a faithful TRL
``rollout_func`` makes of them (``prompt_ids``, ``completion_ids``, ``env_mask``, ``logprobs``,
``env_reward``, plain lists as TRL's NeMo Gym example returns them). Measured alternately,
medians of ``--repeats``:

- conversion: per sample ``torch.tensor`` of the ids, the mask and the log-probs, then
  ``pad_sequence`` of each into a ``[B, T]`` batch;
- monitor: ``check_batch(rollouts, samples)``;
- monitor + agreement: the same with ``trainer_logprobs`` (one tensor per sample, as the
  trainer holds them after its forward pass).

    python bench/monitor/run.py --repeats 9
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "rollouts"))
from generate import rollout

from gymcheck.monitor import check_batch


def trl_sample(record: dict[str, Any]) -> dict[str, Any]:
    turns = [i for i in record["response"]["output"] if "generation_token_ids" in i]
    prompt = turns[0]["prompt_token_ids"]
    seen = list(prompt)
    completion: list[int] = []
    mask: list[int] = []
    logprobs: list[float] = []
    for item in turns:
        added = item["prompt_token_ids"][len(seen) :]
        generated = item["generation_token_ids"]
        completion += added + generated
        mask += [0] * len(added) + [1] * len(generated)
        logprobs += [0.0] * len(added) + item["generation_log_probs"]
        seen = item["prompt_token_ids"] + generated
    return {
        "prompt_ids": prompt,
        "completion_ids": completion,
        "env_mask": mask,
        "logprobs": logprobs,
        "env_reward": record["reward"],
    }


def to_tensors(samples: list[dict[str, Any]]) -> tuple[torch.Tensor, ...]:
    ids = [torch.tensor(s["prompt_ids"] + s["completion_ids"]) for s in samples]
    masks = [torch.tensor([0] * len(s["prompt_ids"]) + s["env_mask"]) for s in samples]
    logprobs = [torch.tensor([0.0] * len(s["prompt_ids"]) + s["logprobs"]) for s in samples]
    return tuple(pad_sequence(x, batch_first=True) for x in (ids, masks, logprobs))


def timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rollouts", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    rng = random.Random(0)
    rollouts = [
        rollout(rng, turns=args.turns, tokens=args.tokens, broken=False)
        for _ in range(args.rollouts)
    ]
    samples = [trl_sample(r) for r in rollouts]
    trainer = [torch.tensor(s["logprobs"]) - 0.01 for s in samples]
    report = check_batch(rollouts, samples, trainer_logprobs=trainer)
    assert report.passed, [f.message for f in report.findings[:3]]
    runs = {
        "conversion to torch tensors": lambda: to_tensors(samples),
        "monitor": lambda: check_batch(rollouts, samples),
        "monitor + trainer log-prob agreement": lambda: check_batch(
            rollouts, samples, trainer_logprobs=trainer
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            times[name].append(timed(run))
    tokens = sum(len(s["prompt_ids"]) + len(s["completion_ids"]) for s in samples)
    print(f"{args.rollouts} rollouts, {tokens} tokens, {args.repeats} repeats")
    base = statistics.median(times["conversion to torch tensors"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:40s} median {median * 1000:8.1f} ms  ratio to conversion {median / base:.2f}")


if __name__ == "__main__":
    main()
