"""CPU time per phase of the rollout scan with 1 and N workers: what limits the speed-up.

On a shared machine wall time says little about scaling, CPU time does: each phase below is
the minimum over ``--repeats`` runs of this process's CPU time (``time.process_time``, every
thread) and its pool workers' (``RUSAGE_CHILDREN``). The file is ``generate.py``'s (made if
missing), plus a gzip copy. From the figures: the Amdahl bound of the N-worker scan, counting
the interpreter's start (the bench runs each scan as a process) as serial.

    python bench/rollouts/phases.py --size-mb 200
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gymcheck.compressed import decompressed
from gymcheck.files import open_input
from gymcheck.jsonl import count_lines
from gymcheck.scan import scan
from gymcheck.scan_stream import stream_blocks

HERE = Path(__file__).resolve().parent


def cpu(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(seconds of this process's CPU, of its children's): the least of ``repeats`` runs."""
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        children = _children()
        start = time.process_time()
        run()
        took = (time.process_time() - start, _children() - children)
        best = min(best, took, key=sum)
    return best


def _children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def startup(repeats: int) -> float:
    """CPU of ``python -c 'import gymcheck.scan'``: what every scan process pays first."""
    command = [sys.executable, "-c", "import gymcheck.scan"]
    return cpu(lambda: subprocess.run(command, check=True), repeats)[1]


def inflate(path: Path) -> None:
    with open_input(path) as raw, decompressed(raw, "gzip") as stream:
        while stream.read(1 << 20):
            pass


def cut(path: Path) -> None:
    with open_input(path) as raw, decompressed(raw, "gzip") as stream:
        for _ in stream_blocks(path, stream, 64 << 20):
            pass


def phases(plain: Path, packed: Path, workers: int, repeats: int) -> dict[str, list[float]]:
    def scanned(path: Path, count: int) -> Callable[[], object]:
        return lambda: scan([path], workers=count)

    runs: dict[str, Callable[[], object]] = {
        "count_lines (the pre-count, no longer run)": lambda: count_lines(plain),
        "scan, 1 worker": scanned(plain, 1),
        f"scan, {workers} workers": scanned(plain, workers),
        ".gz: inflate only": lambda: inflate(packed),
        ".gz: inflate + cut into blocks": lambda: cut(packed),
        ".gz: scan, 1 worker": scanned(packed, 1),
        f".gz: scan, {workers} workers": scanned(packed, workers),
    }
    table = {"interpreter + import gymcheck.scan": [0.0, round(startup(repeats), 3)]}
    for name, run in runs.items():
        table[name] = [round(seconds, 3) for seconds in cpu(run, repeats)]
    return table


def bounds(table: dict[str, list[float]], workers: int) -> dict[str, float]:
    """Amdahl: the start and the serial part, then the rest of the CPU split evenly."""
    start = table["interpreter + import gymcheck.scan"][1]

    def bound(prefix: str, serial: float) -> float:
        one = start + sum(table[f"{prefix}scan, 1 worker"])
        many = sum(table[f"{prefix}scan, {workers} workers"])
        return round(one / (start + max(serial, many / workers)), 2)

    main = table[f"scan, {workers} workers"][0]
    return {
        f"{workers}_workers_vs_1_at_best": bound("", main),
        f"gz_{workers}_workers_vs_1_at_best": bound(
            ".gz: ", table[".gz: inflate + cut into blocks"][0]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", type=Path, default=HERE.parent / "out" / "phases.jsonl")
    parser.add_argument("--size-mb", type=float, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from generate import generate

    packed = args.path.with_name(args.path.name + ".gz")
    if not args.path.exists():
        generate(args.path, int(args.size_mb * 2**20))
    if not packed.exists():
        with open(args.path, "rb") as source, gzip.open(packed, "wb", compresslevel=1) as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    table = phases(args.path, packed, args.workers, args.repeats)
    summary = {
        "file_MB": round(args.path.stat().st_size / 1e6),
        "cpu_s_main_and_workers": table,
        "amdahl": bounds(table, args.workers),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
