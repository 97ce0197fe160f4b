"""The collection client against real servers on loopback: discovery, concurrency, failures.

Failures use real broken peers (a closed port, a socket that never answers, a server that
answers text), never mocks of gymcheck's own components.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from gymcheck.collect import collect_rollouts, load_task_rows
from gymcheck.errors import UsageError
from gymcheck.reference.gym import tasks
from gymcheck.reference.gym.agent import AgentConfig, create_agent_app
from gymcheck.reference.gym.head import ServerInstance, create_head_app
from gymcheck.reference.gym.multi_step import MultiStepResourcesServer
from gymcheck.reference.serving import BackgroundServer, free_port


@contextmanager
def silent_socket() -> Iterator[str]:
    """A server that accepts connections and never answers: requests to it time out."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def serving_together(*servers: BackgroundServer) -> Iterator[None]:
    """Starts the servers, then stops them all at once (uvicorn takes ~0.2 s to stop each)."""
    try:
        for server in servers:
            server.start()
        yield
    finally:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(BackgroundServer.stop, servers))


@contextmanager
def gym_with_agent(model_base_url: str, *, agent_timeout: float = 5.0) -> Iterator[str]:
    """A head server, a real agent and resource server; the agent calls ``model_base_url``."""
    resources = BackgroundServer(MultiStepResourcesServer().create_app())
    config = AgentConfig(
        name="multi_step_agent",
        resources_url=resources.url,
        model_base_url=model_base_url,
        model="m",
        timeout=agent_timeout,
    )
    agent = BackgroundServer(create_agent_app(config))
    head = BackgroundServer(create_head_app(_one_agent_gym(resources.url, agent.url)))
    with serving_together(resources, agent, head):
        yield head.url


ROWS = tasks.multi_step_tasks(64)


def test_unreachable_gym_url_fails_every_rollout_without_raising():
    progress: list[tuple[int, int]] = []
    url = f"http://127.0.0.1:{free_port()}"
    collection = collect_rollouts(
        url, ROWS, timeout=5, progress=lambda d, t: progress.append((d, t))
    )
    assert collection.records == []
    assert [f.code for f in collection.findings] == ["rollout_failed"] * len(ROWS)
    assert {f.cause for f in collection.findings} == {"unreachable"}
    assert collection.findings[0].rollout_index == 0
    assert "cannot reach" in collection.findings[0].message
    assert progress[0] == (0, 3) and progress[-1] == (3, 3)


def test_agent_error_becomes_http_status_finding():
    # The agent's model endpoint is a closed port: the agent answers 502 with the reason.
    with gym_with_agent(f"http://127.0.0.1:{free_port()}") as gym_url:
        collection = collect_rollouts(gym_url, ROWS, concurrency=2, timeout=20)
    assert collection.agents.keys() == {"multi_step_agent"}
    assert len(collection.findings) == 3 and not collection.records
    finding = collection.findings[0]
    assert (finding.code, finding.cause) == ("rollout_failed", "http_status")
    assert finding.details["status_code"] == 502
    assert "model endpoint" in finding.message and "cannot reach" in finding.message
    assert finding.source.endswith("/run")


def test_slow_agent_becomes_timeout_finding():
    # The agent gives up on its model after 1.5 s (a 502); the collector's 0.3 s comes first.
    with silent_socket() as hanging_model, gym_with_agent(hanging_model, agent_timeout=1.5) as gym:
        collection = collect_rollouts(gym, ROWS[:2], timeout=0.3)
    assert [(f.code, f.cause) for f in collection.findings] == [("rollout_failed", "timeout")] * 2


def test_answer_that_is_not_json_becomes_invalid_json_finding():
    broken = FastAPI()
    broken.post("/run")(lambda: PlainTextResponse("<html>oops</html>"))
    agent = BackgroundServer(broken)
    gym = BackgroundServer(
        create_head_app([ServerInstance("a", "responses_api_agents", agent.url)])
    )
    with serving_together(agent, gym):
        collection = collect_rollouts(gym.url, ROWS[:1], agent="a", timeout=5)
    assert [f.cause for f in collection.findings] == ["invalid_json"]
    assert "oops" in collection.findings[0].message


def test_unknown_agent_is_a_finding_naming_the_instances():
    instance = ServerInstance(
        "only_agent", "responses_api_agents", "http://x:1", implementation="simple_agent"
    )
    with BackgroundServer(create_head_app([instance])) as gym:
        collection = collect_rollouts(gym.url, ROWS[:1], agent="nope", timeout=5)
    finding = collection.findings[0]
    assert finding.cause == "agent_not_found"
    assert "the head server lists no agent 'nope' (agent instances: only_agent)" in finding.message


def _run_recorder() -> tuple[FastAPI, list[dict]]:
    """An agent whose /run records each body it gets and answers a minimal record."""
    bodies: list[dict] = []
    app = FastAPI()

    @app.post("/run")
    def run(body: dict) -> dict:
        bodies.append(body)
        return {"response": {"output": []}, "reward": 0.0}

    return app, bodies


def _one_agent_gym(resources_url: str, agent_url: str) -> list[ServerInstance]:
    """What a head server lists for one resources server and the simple agent in front of it."""
    return [
        ServerInstance("multi_step_resources_server", "resources_servers", resources_url),
        ServerInstance(
            "multi_step_agent",
            "responses_api_agents",
            agent_url,
            implementation="simple_agent",
            resources_server="multi_step_resources_server",
        ),
    ]


@pytest.fixture(scope="module")
def recording_gym() -> Iterator[tuple[str, list[dict]]]:
    """A head server listing one recording agent: its url, and the bodies the agent got."""
    app, bodies = _run_recorder()
    agent = BackgroundServer(app)
    gym = BackgroundServer(create_head_app(_one_agent_gym("http://x:1", agent.url)))
    with serving_together(agent, gym):
        yield gym.url, bodies


@pytest.mark.parametrize(
    ("rows", "agent"),
    [
        ([{"responses_create_params": {}}], "multi_step_agent"),  # no agent_ref, instance name
        ([{"responses_create_params": {}}], "simple_agent"),  # no agent_ref, implementation
        (ROWS[:1], None),  # the row's agent_ref
        ([{"responses_create_params": {}, "task_source": "multi_step_resources_server"}], None),
    ],
    ids=["instance", "implementation", "agent_ref", "task_source"],
)
def test_rows_reach_the_agent_by_every_routing(
    recording_gym: tuple[str, list[dict]], rows: list[dict], agent: str | None
):
    gym_url, bodies = recording_gym
    bodies.clear()
    collection = collect_rollouts(gym_url, rows, agent=agent, timeout=10)
    assert not collection.findings and len(collection.records) == 1
    assert len(bodies) == 1
    assert bodies[0]["agent_ref"]["name"] == "multi_step_agent"
    assert (bodies[0]["_ng_task_index"], bodies[0]["_ng_rollout_index"]) == (0, 0)


def test_load_task_rows_reads_gym_jsonl(tmp_path: Path):
    import orjson

    path = tmp_path / "tasks.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in ROWS) + b"\n\n")
    assert load_task_rows(path) == ROWS


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"responses_create_params": {}}\n{not json\n', "line 2: not valid JSON"),
        (b'{"input": []}\n', "line 1: a task row is a JSON object"),
        (b"\n", "holds no task rows"),
    ],
)
def test_load_task_rows_names_the_bad_line(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_task_rows(path)


def test_load_task_rows_missing_file_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="cannot read"):
        load_task_rows(tmp_path / "missing.jsonl")
