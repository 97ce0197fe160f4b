"""Peak memory of `gymcheck rollouts` on a file of bad lines, with and without --json.

Every line is a finding: odd lines are rollout records with a reward outside [0, 1], even
lines are not JSON. Each run is its own process; its peak RSS comes from ``os.wait4``.

    python bench/hostile/million_bad_lines.py            # 1,000,000 lines
    python bench/hostile/million_bad_lines.py --lines 100000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

RECORD = {
    "responses_create_params": {"input": [{"role": "user", "content": "hi"}]},
    "response": {
        "output": [
            {
                "type": "message",
                "prompt_token_ids": [1, 2, 3],
                "generation_token_ids": [4, 5],
                "generation_log_probs": [-0.5, -0.25],
            }
        ]
    },
    "reward": 5.0,
}


def generate(path: Path, lines: int) -> None:
    bad_record = orjson.dumps(RECORD) + b"\n"
    not_json = b'{"reward": 1, "response": {"output": [\n'
    with path.open("wb") as out:
        for _ in range(lines // 2):
            out.write(bad_record)
            out.write(not_json)


def measure(args: list[str]) -> tuple[float, float, int]:
    """``(seconds, peak RSS in MB, exit code)`` of one gymcheck run."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "gymcheck", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "bad.jsonl"
        report = Path(scratch) / "report.json"
        generate(data, options.lines)
        size_mb = data.stat().st_size / 1e6
        print(f"{options.lines:,} bad lines, {size_mb:.0f} MB")
        for label, extra in (("rollouts", []), ("rollouts --json", ["--json", str(report)])):
            seconds, peak, code = measure(["rollouts", str(data), *extra])
            written = f", report {report.stat().st_size / 1e6:.0f} MB" if extra else ""
            print(f"{label:18s} exit {code}  {seconds:6.1f} s  peak RSS {peak:6.0f} MB{written}")


if __name__ == "__main__":
    main()
