"""``gymcheck rollouts --ray ADDRESS``: the scan as Ray tasks, for dumps that outgrow one machine.

The units are those of the local pool: a plain file is cut into byte ranges (first counted, so
each range knows its first line and record), a compressed file is one task that decompresses
and scans it. Results are gathered in submission order, so the findings, their lines and the
counts are those of the local pool. Every node must see the files at the same path and have
gymcheck installed (``pip install 'gymcheck[ray]'``).

``ADDRESS`` is what ``ray.init`` takes (``auto`` for the cluster this machine belongs to,
``HOST:PORT``, ``ray://HOST:PORT``), or ``local``: a Ray instance started for this scan on
127.0.0.1, with this machine's CPUs, and stopped after it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gymcheck.checks.rollout_pass import RolloutTallies
from gymcheck.errors import UsageError
from gymcheck.jsonl import split_ranges
from gymcheck.scan_lines import (
    Options,
    Range,
    RangeResult,
    ScanResult,
    add_file,
    count_range,
    located,
    scan_range,
)
from gymcheck.scan_stream import scan_compressed

RANGE_BYTES = 32 << 20
_LOCAL_OBJECT_STORE_BYTES = 256 << 20
"""Ranges and results are small: a local instance need not take 30% of the memory."""


def scan_with_ray(
    files: Sequence[tuple[Path, str | None]],
    result: ScanResult,
    tokenizer: Any,
    options: Options,
    address: str,
) -> None:
    """Scan ``(path, compression)`` pairs as Ray tasks and merge them into ``result``."""
    ray = _import_ray()
    connected_here = not ray.is_initialized()
    if connected_here:
        _connect(ray, address)
    try:
        _run(ray, files, result, tokenizer, options)
    finally:
        if connected_here:
            ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'gymcheck[ray]'") from None
    return ray


def _connect(ray: Any, address: str) -> None:
    quiet = {"log_to_driver": False, "logging_level": "ERROR", "configure_logging": True}
    try:
        if address == "local":
            ray.init(
                address="local",
                _node_ip_address="127.0.0.1",
                include_dashboard=False,
                num_cpus=os.cpu_count() or 1,
                object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
                **quiet,
            )
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageError(f"--ray {address}: cannot connect to a Ray cluster: {exc}") from None


def _run(
    ray: Any,
    files: Sequence[tuple[Path, str | None]],
    result: ScanResult,
    tokenizer: Any,
    options: Options,
) -> None:
    count = ray.remote(count_range)
    scan_part = ray.remote(_scan_range_task)
    scan_whole = ray.remote(_scan_compressed_task)
    tokenizer_ref = ray.put(tokenizer)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    jobs: list[tuple[Path, Any]] = []
    for path, name in files:
        if name is not None:
            jobs.append((path, scan_whole.remote(path, name, tokenizer_ref, options)))
            continue
        parts = max(cpus * 4, -(-path.stat().st_size // RANGE_BYTES))
        ranges = [Range(path, s, e) for s, e in split_ranges(path, parts)]
        counts = ray.get([count.remote(r, options.max_line_bytes) for r in ranges])
        jobs.append(
            (path, [scan_part.remote(r, tokenizer_ref, options) for r in located(ranges, counts)])
        )
    for path, refs in jobs:
        if isinstance(refs, list):
            add_file(result, path, ray.get(refs))
        else:
            result.merge(ray.get(refs))


def _scan_range_task(where: Range, tokenizer: Any, options: Options) -> RangeResult:
    result = scan_range(where, tokenizer, options, None)
    _portable(result.scan)
    return result


def _scan_compressed_task(path: Path, name: str, tokenizer: Any, options: Options) -> ScanResult:
    part = ScanResult(RolloutTallies.bounded(spool=options.spool_findings))
    scan_compressed(path, name, part, tokenizer, options, None)
    _portable(part)
    return part


def _portable(scan: ScanResult) -> None:
    """A task may run on another node: its spooled findings travel with its result."""
    scan.tallies.collection.findings.make_portable()
    scan.tallies.continuity.findings.make_portable()
