"""Benchmark the rollout scan against a parse-only orjson baseline on a large JSONL file.

Side by side in one run: the baseline (read each line, ``orjson.loads`` it), the scan with its
fast path (``gymcheck.fastscan``), the previous scan (the exact path on every line,
``fast=False``), with 1 and 2 workers, and the same on a gzip copy of the file (baseline:
``gzip.open`` + ``orjson.loads``). Each measurement runs in its own process; wall time is
measured around it, and peak memory is the largest summed RSS of the process and its children,
sampled every 20 ms from /proc. Medians over ``--repeats`` runs, in alternating order, because
the machine is shared.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASELINE = (
    "import sys, gzip, orjson\n"
    "path = sys.argv[1]\n"
    "opener = gzip.open if path.endswith('.gz') else open\n"
    "with opener(path, 'rb') as f:\n"
    "    for line in f:\n"
    "        orjson.loads(line)\n"
)
SCAN = (
    "import sys\n"
    "from gymcheck.scan import scan\n"
    "scan([sys.argv[1]], workers=int(sys.argv[2]), fast=sys.argv[3] == 'fast').to_report()\n"
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
    """(seconds, peak tree RSS in bytes, exit code) of one run of ``command``. A thread samples
    the memory while this one waits, so the end is seen at once, not at the next sample."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0

    def sample() -> None:
        nonlocal peak
        while process.returncode is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    seconds = time.perf_counter() - start
    sampler.join()
    return seconds, peak, code


def runs(plain: Path, packed: Path) -> dict[str, list[str]]:
    python = sys.executable

    def scan(path: Path, workers: int, path_kind: str) -> list[str]:
        return [python, "-c", SCAN, str(path), str(workers), path_kind]

    return {
        "orjson parse only": [python, "-c", BASELINE, str(plain)],
        "scan, fast path, 1 worker": scan(plain, 1, "fast"),
        "scan, fast path, 2 workers": scan(plain, 2, "fast"),
        "previous scan (exact path), 1 worker": scan(plain, 1, "exact"),
        "previous scan (exact path), 2 workers": scan(plain, 2, "exact"),
        ".gz: gzip + orjson parse only": [python, "-c", BASELINE, str(packed)],
        ".gz: scan, fast path, 1 worker": scan(packed, 1, "fast"),
        ".gz: scan, fast path, 2 workers": scan(packed, 2, "fast"),
    }


def summarize(
    results: dict[str, list[tuple[float, int, int]]], size: int, rollouts: int
) -> dict[str, dict[str, object]]:
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
    return table


def ratios(table: dict[str, dict[str, object]]) -> dict[str, float]:
    def seconds(name: str) -> float:
        return float(table[name]["median_s"])  # type: ignore[arg-type]

    base, fast1 = seconds("orjson parse only"), seconds("scan, fast path, 1 worker")
    return {
        "fast_1_worker_vs_parse_only": round(base / fast1, 2),
        "fast_2_workers_vs_1_worker": round(fast1 / seconds("scan, fast path, 2 workers"), 2),
        "fast_vs_previous_scan_1_worker": round(
            seconds("previous scan (exact path), 1 worker") / fast1, 2
        ),
        "previous_scan_1_worker_vs_parse_only": round(
            base / seconds("previous scan (exact path), 1 worker"), 2
        ),
        "gz_fast_1_worker_vs_gz_parse_only": round(
            seconds(".gz: gzip + orjson parse only") / seconds(".gz: scan, fast path, 1 worker"),
            2,
        ),
        "gz_fast_2_workers_vs_1_worker": round(
            seconds(".gz: scan, fast path, 1 worker") / seconds(".gz: scan, fast path, 2 workers"),
            2,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", type=Path, default=HERE.parent / "out" / "rollouts.jsonl")
    parser.add_argument("--size-mb", type=float, default=1100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    from generate import generate

    packed = args.path.with_name(args.path.name + ".gz")
    if not args.path.exists():
        count = generate(args.path, int(args.size_mb * 2**20))
        print(f"generated {count} rollouts, {args.path.stat().st_size / 2**20:.0f} MiB")
    if not packed.exists():
        with open(args.path, "rb") as source, gzip.open(packed, "wb", compresslevel=1) as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    size = args.path.stat().st_size
    with open(args.path, "rb") as handle:
        rollouts = sum(1 for _ in handle)
    commands = runs(args.path, packed)
    results: dict[str, list[tuple[float, int, int]]] = {name: [] for name in commands}
    try:
        for _ in range(args.repeats):
            for name, command in commands.items():
                results[name].append(measure(command))
    finally:
        if not args.keep:
            args.path.unlink(missing_ok=True)
            packed.unlink(missing_ok=True)
    table = summarize(results, size, rollouts)
    summary = {
        "file_MB": round(size / 1e6),
        "gz_file_MB": round(packed.stat().st_size / 1e6) if packed.exists() else None,
        "rollouts": rollouts,
        "repeats": args.repeats,
        "results": table,
        "ratios": ratios(table),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
