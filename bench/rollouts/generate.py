"""Write a large synthetic NeMo Gym rollout JSONL file for the benchmark.

Each rollout is a contiguous (token-in-token-out) multi-turn tool-calling episode of about 4k
tokens: a long first prompt, then per turn a generation and a tool result. One rollout in
``--fault-every`` breaks continuity (its last prompt drops a token), so the scan also
exercises the diagnosis path. Ids and logprobs are random but shaped like real ones.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import orjson

VOCAB = 151_000


def rollout(rng: random.Random, *, turns: int, tokens: int, broken: bool) -> dict:
    generated_per_turn = tokens // (3 * turns)
    tool_per_turn = tokens // (6 * turns)
    first_prompt = tokens - turns * (generated_per_turn + tool_per_turn)
    prompt = [rng.randrange(VOCAB) for _ in range(first_prompt)]
    output = []
    for k in range(turns):
        generated = [rng.randrange(VOCAB) for _ in range(generated_per_turn)]
        logprobs = [-rng.random() * 3 for _ in generated]
        this_prompt = list(prompt)
        if broken and k == turns - 1:
            del this_prompt[len(this_prompt) // 2]
        output.append(
            {
                "type": "function_call",
                "name": "get_weather",
                "call_id": f"call_{k}",
                "arguments": '{"city": "nyc"}',
                "prompt_token_ids": this_prompt,
                "generation_token_ids": generated,
                "generation_log_probs": logprobs,
            }
        )
        output.append(
            {"type": "function_call_output", "call_id": f"call_{k}", "output": '{"temp_c": 21}'}
        )
        prompt = prompt + generated + [rng.randrange(VOCAB) for _ in range(tool_per_turn)]
    return {
        "responses_create_params": {"input": [{"role": "user", "content": "Weather?"}]},
        "response": {"id": "resp", "object": "response", "output": output},
        "reward": rng.random(),
    }


def generate(
    path: Path,
    size_bytes: int,
    *,
    turns: int = 4,
    tokens: int = 4096,
    fault_every: int = 1000,
    distinct: int = 64,
    seed: int = 0,
) -> int:
    """Write at least ``size_bytes``; returns the number of rollouts written."""
    rng = random.Random(seed)
    # Serializing is the slow part; cycle through a pool of distinct lines.
    clean = [
        orjson.dumps(rollout(rng, turns=turns, tokens=tokens, broken=False)) + b"\n"
        for _ in range(distinct)
    ]
    broken = orjson.dumps(rollout(rng, turns=turns, tokens=tokens, broken=True)) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    written = count = 0
    with open(path, "wb") as handle:
        while written < size_bytes:
            line = (
                broken
                if fault_every and count % fault_every == fault_every - 1
                else (clean[count % distinct])
            )
            handle.write(line)
            written += len(line)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--size-mb", type=float, default=1024)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=4096)
    args = parser.parse_args()
    count = generate(args.path, int(args.size_mb * 2**20), turns=args.turns, tokens=args.tokens)
    print(f"wrote {count} rollouts to {args.path}")


if __name__ == "__main__":
    main()
