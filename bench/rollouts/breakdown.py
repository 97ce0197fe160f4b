"""CPU time per line of the scan's fast path (``prove_clean``) against ``orjson.loads``.

The same lines as ``run.py`` (``generate.py``'s clean rollouts), each timed in this process
with ``time.thread_time`` (CPU time, so other processes on a shared machine count less than in
wall time); each figure is the minimum over ``--repeats`` passes over the lines. Also times
``prove_clean`` with ``gymcheck.bytescan``'s pure-Python fallback (what runs where the C
extension was not built) and the exact path (``orjson.loads`` + ``inspect_record``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest.mock import patch

import orjson

from gymcheck import bytescan
from gymcheck.checks.records import inspect_record
from gymcheck.fastscan import prove_clean

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import rollout


def per_line(work: Callable[[bytes], object], lines: list[bytes], repeats: int) -> float:
    """Minimum over ``repeats`` passes of the CPU µs per line."""
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        for line in lines:
            work(line)
        best = min(best, time.thread_time() - start)
    return best / len(lines) * 1e6


def fast(line: bytes) -> object:
    clean = prove_clean(line, reward_range=(0.0, 1.0), vocab_size=None)
    assert clean is not None
    return clean


def exact(line: bytes) -> object:
    return inspect_record(orjson.loads(line), raw=line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(0)
    lines = [
        orjson.dumps(rollout(rng, turns=4, tokens=4096, broken=False)) for _ in range(args.lines)
    ]
    with patch.multiple(
        bytescan,
        array_spans=bytescan.python_array_spans,
        id_array=bytescan.python_id_array,
        logprob_array=bytescan.python_logprob_array,
    ):
        fallback = per_line(fast, lines, args.repeats)
    figures = {
        "line_KB": round(sum(map(len, lines)) / len(lines) / 1e3, 1),
        "compiled": bytescan.COMPILED,
        "orjson_loads_us": per_line(orjson.loads, lines, args.repeats),
        "prove_clean_us": per_line(fast, lines, args.repeats),
        "prove_clean_python_fallback_us": fallback,
        "exact_path_us": per_line(exact, lines, args.repeats),
    }
    figures = {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}
    figures["orjson_vs_prove_clean"] = round(
        figures["orjson_loads_us"] / figures["prove_clean_us"], 2
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
