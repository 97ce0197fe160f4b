"""``--ray``: the scan as Ray tasks on a real local Ray cluster (``ray start --head`` on
127.0.0.1), with the local pool's findings, lines and counts."""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from rollout_builders import make_record
from typer.testing import CliRunner

from gymcheck.cli import app
from gymcheck.scan import scan

RAY = Path(sys.executable).with_name("ray")
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A one-node Ray cluster on loopback: 2 CPUs, a 100 MB object store, no dashboard. It is
    ``ray start --block``, so stopping that one process stops the cluster it started."""
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="gcray", dir="/tmp")  # short: Ray's socket paths
    # Loopback only, no usage report, and no token (Ray 2.5x's default) for the drivers here.
    ray_env = {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
    }
    env = {**os.environ, **ray_env}
    head = subprocess.Popen(
        [
            str(RAY),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--object-store-memory=100000000",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp_dir}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    patch = pytest.MonkeyPatch()
    try:
        for name, value in ray_env.items():
            patch.setenv(name, value)
        _wait_for_ray(address, head, env)
        yield address
    finally:
        patch.undo()
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)


def _wait_for_ray(address: str, head: subprocess.Popen, env: dict[str, str]) -> None:
    """Until a driver can connect (``ray status`` answers), within ``START_TIMEOUT_S``."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with {head.returncode}")
        status = subprocess.run(
            [str(RAY), "status", f"--address={address}"],
            env=env,
            capture_output=True,
            timeout=30,
            check=False,
        )
        if status.returncode == 0:
            return
        time.sleep(2)
    raise RuntimeError(f"Ray did not start within {START_TIMEOUT_S} s")


def line(reward: object = 1.0, *, broken: bool = False) -> bytes:
    prompt, generated = list(range(1, 11)), [11, 12, 13]
    second = [*prompt, *generated, 20, 21]
    if broken:
        del second[4]
    return orjson.dumps(make_record([(prompt, generated), (second, [30, 31])], reward=reward))


def dump() -> bytes:
    lines = [line() for _ in range(40)]
    lines[3] = line(reward=5.0)
    lines[17] = b"{cut off"
    lines[25] = line(broken=True)
    lines[38] = line(reward="high")
    return b"\n".join(lines) + b"\n"


def comparable(result) -> tuple[list[dict], list[dict]]:
    report = result.to_report()
    return [f.to_dict() for f in report.findings], [c.details for c in report.checks]


def test_ray_tasks_find_what_the_local_pool_finds(ray_address, tmp_path):
    plain, packed = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    plain.write_bytes(dump())
    packed.write_bytes(gzip.compress(dump()))
    local = scan([plain, packed], workers=2)
    on_ray = scan([plain, packed], ray=ray_address)
    assert comparable(on_ray) == comparable(local)
    findings, _ = comparable(on_ray)
    assert [(Path(f["source"]).name, f["line"], f["code"]) for f in findings] == [
        ("a.jsonl", 4, "reward_invalid"),
        ("a.jsonl", 18, "schema"),
        ("a.jsonl", 39, "reward_invalid"),
        ("b.jsonl.gz", 4, "reward_invalid"),
        ("b.jsonl.gz", 18, "schema"),
        ("b.jsonl.gz", 39, "reward_invalid"),
        ("a.jsonl", 26, "continuity_break"),
        ("b.jsonl.gz", 26, "continuity_break"),
    ]


def test_the_cli_runs_on_ray(ray_address, tmp_path):
    path = tmp_path / "rollouts.jsonl"
    path.write_bytes(dump())
    out_local, out_ray = tmp_path / "local.json", tmp_path / "ray.json"
    runner = CliRunner()
    local = runner.invoke(app, ["rollouts", str(path), "--json", str(out_local)])
    on_ray = runner.invoke(
        app, ["rollouts", str(path), "--ray", ray_address, "--json", str(out_ray)]
    )
    assert (local.exit_code, on_ray.exit_code) == (1, 1), on_ray.output
    local_report, ray_report = json.loads(out_local.read_text()), json.loads(out_ray.read_text())
    assert ray_report["findings"] == local_report["findings"]
    assert [c["details"] for c in ray_report["checks"]] == [
        c["details"] for c in local_report["checks"]
    ]
