"""Benchmark `gymcheck rollouts` against a parse-only orjson baseline on a large JSONL file.

Each measurement runs in its own process; wall time is measured around it, and peak memory
is the largest summed RSS of the process and its children, sampled every 20 ms from /proc.
Medians over ``--repeats`` runs, in alternating order, because the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASELINE = (
    "import sys, orjson\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    for line in f:\n"
    "        orjson.loads(line)\n"
)


def _tree_rss(pid: int) -> int:
    """Summed RSS in bytes of ``pid`` and its descendants."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack += [int(c) for c in handle.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(command: list[str]) -> tuple[float, int, int]:
    """(seconds, peak tree RSS in bytes, exit code) of one run of ``command``."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.02)
    return time.perf_counter() - start, peak, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", type=Path, default=HERE.parent / "out" / "rollouts.jsonl")
    parser.add_argument("--size-mb", type=float, default=1100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    from generate import generate

    if not args.path.exists():
        count = generate(args.path, int(args.size_mb * 2**20))
        print(f"generated {count} rollouts, {args.path.stat().st_size / 2**20:.0f} MiB")
    size = args.path.stat().st_size
    with open(args.path, "rb") as handle:
        rollouts = sum(1 for _ in handle)
    gymcheck = [
        sys.executable,
        "-c",
        "from gymcheck.cli import main; main()",
        "rollouts",
        str(args.path),
    ]
    runs = {
        "orjson parse only": [sys.executable, "-c", BASELINE, str(args.path)],
        "gymcheck rollouts": gymcheck,
        "gymcheck rollouts --workers 2": [*gymcheck, "--workers", "2"],
    }
    results: dict[str, list[tuple[float, int, int]]] = {name: [] for name in runs}
    try:
        for _ in range(args.repeats):
            for name, command in runs.items():
                results[name].append(measure(command))
    finally:
        if not args.keep:
            args.path.unlink(missing_ok=True)

    table = {}
    for name, samples in results.items():
        seconds = statistics.median(s for s, _, _ in samples)
        table[name] = {
            "median_s": round(seconds, 2),
            "MB_per_s": round(size / 1e6 / seconds, 1),
            "rollouts_per_s": round(rollouts / seconds),
            "peak_rss_MB": round(max(p for _, p, _ in samples) / 1e6),
            "exit_codes": sorted({c for _, _, c in samples}),
        }
    base = table["orjson parse only"]["median_s"]
    summary = {
        "file_MB": round(size / 1e6),
        "rollouts": rollouts,
        "repeats": args.repeats,
        "results": table,
        "scan_speed_vs_baseline_1_worker": round(base / table["gymcheck rollouts"]["median_s"], 2),
        "speedup_2_workers": round(
            table["gymcheck rollouts"]["median_s"]
            / table["gymcheck rollouts --workers 2"]["median_s"],
            2,
        ),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
