"""The embedded Gym environment's resource and head servers, over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import yaml

from gymcheck.errors import UsageError
from gymcheck.reference.faults import Fault
from gymcheck.reference.gym import tasks
from gymcheck.reference.gym.head import ServerInstance, create_head_app
from gymcheck.reference.gym.multi_step import MultiStepResourcesServer
from gymcheck.reference.gym.single_tool import SingleToolResourcesServer
from gymcheck.reference.serving import BackgroundServer

# One server of each kind per module (they keep no state between requests: the session cookie
# is a fresh uuid), and a fresh client, without cookies, per test.


@pytest.fixture(scope="module")
def single_tool_url() -> Iterator[str]:
    with BackgroundServer(SingleToolResourcesServer().create_app()) as server:
        yield server.url


@pytest.fixture(scope="module")
def multi_step_url() -> Iterator[str]:
    with BackgroundServer(MultiStepResourcesServer().create_app()) as server:
        yield server.url


@pytest.fixture
def single_tool(single_tool_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=single_tool_url, timeout=10) as client:
        yield client


@pytest.fixture
def multi_step(multi_step_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=multi_step_url, timeout=10) as client:
        yield client


def _call(name: str, arguments: dict) -> dict:
    return {
        "type": "function_call",
        "name": name,
        "arguments": json.dumps(arguments),
        "call_id": f"call_{name}",
        "id": f"call_{name}",
        "status": "completed",
    }


def _verify_body(row: dict, *calls: dict) -> dict:
    return {**row, "response": {"output": list(calls)}}


def test_every_row_requires_a_tool_call_and_names_its_agent():
    rows = tasks.default_tasks()
    assert {row["env"] for row in rows} == {"single_tool", "multi_step"}
    assert 4 <= len(rows) <= 6
    for row in rows:
        params = row["responses_create_params"]
        assert params["tool_choice"] == "required"
        assert params["max_output_tokens"] <= 160
        assert row["agent_ref"] == {
            "type": "responses_api_agents",
            "name": tasks.agent_name(row["env"]),
        }
        assert all(tool["type"] == "function" and "name" in tool for tool in params["tools"])


def test_unknown_env_is_a_usage_error():
    with pytest.raises(UsageError, match="known: single_tool, multi_step"):
        tasks.select_envs(["nope"])
    assert [r["env"] for r in tasks.default_tasks(["multi_step"])] == ["multi_step"] * 3


def test_seed_session_sets_a_session_cookie(single_tool):
    answer = single_tool.post("/seed_session", json=tasks.default_tasks()[0])
    assert answer.status_code == 200
    assert "gymcheck_session" in answer.cookies


def test_tools_answer_deterministic_json(single_tool):
    first = single_tool.post("/get_weather", json={"city": "Paris"}).json()
    assert first == single_tool.post("/get_weather", json={"city": "Paris"}).json()
    assert first["city"] == "Paris" and isinstance(first["temperature_c"], int)
    assert single_tool.post("/add_numbers", json={"a": 12, "b": 30}).json() == {"result": 42}
    assert single_tool.post("/lookup_synonym", json={"word": "happy"}).json()["synonym"] == "glad"


def test_bad_tool_arguments_get_422_not_500(single_tool):
    answer = single_tool.post("/add_numbers", json={"a": "12", "b": 30})
    assert answer.status_code == 422
    assert "'a' must be an integer" in answer.text
    assert single_tool.post("/no_such_tool", json={}).status_code == 404


def test_single_tool_rewards_calling_the_tool(single_tool):
    row = tasks.single_tool_tasks(128)[0]
    called = single_tool.post(
        "/verify", json=_verify_body(row, _call("get_weather", {"city": "X"}))
    )
    assert called.status_code == 200
    record = called.json()
    assert record["reward"] == 1.0
    assert record["responses_create_params"] == row["responses_create_params"]  # row kept
    missed = single_tool.post("/verify", json=_verify_body(row, _call("add_numbers", {"a": 1})))
    assert missed.json()["reward"] == 0.0


def test_multi_step_reward_is_graded(multi_step):
    row = tasks.multi_step_tasks(128)[0]  # Oslo weather, then 12 + 30
    weather = _call("get_weather", {"city": "oslo"})
    add_right = _call("add_numbers", {"a": 12, "b": 30})
    add_wrong = _call("add_numbers", {"a": 1, "b": 2})

    def reward(*calls: dict) -> float:
        return multi_step.post("/verify", json=_verify_body(row, *calls)).json()["reward"]

    assert reward() == 0.0
    assert reward(add_wrong) == 0.25
    assert reward(weather) == 0.5
    assert reward(weather, add_wrong) == 0.75
    assert reward(weather, add_right) == 1.0


def test_verify_without_response_is_422(multi_step):
    assert multi_step.post("/verify", json=tasks.multi_step_tasks(128)[0]).status_code == 422


def test_reward_out_of_range_fault_breaks_the_reward_range():
    app = SingleToolResourcesServer(fault=Fault.REWARD_OUT_OF_RANGE).create_app()
    row = tasks.single_tool_tasks(128)[0]
    with BackgroundServer(app) as server:
        answer = httpx.post(server.url + "/verify", json=_verify_body(row), timeout=10)
    assert answer.json()["reward"] == 1.5


def test_head_server_lists_instances_like_nemo_gym():
    instances = [
        ServerInstance(
            "multi_step_agent",
            "responses_api_agents",
            "http://127.0.0.1:9",
            implementation="simple_agent",
            resources_server="multi_step_resources_server",
        ),
        ServerInstance("multi_step_resources_server", "resources_servers", "http://127.0.0.1:8"),
    ]
    with BackgroundServer(create_head_app(instances)) as server:
        assert httpx.get(server.url + "/readyz", timeout=10).json() == {"status": "ok"}
        listing = httpx.get(server.url + "/server_instances", timeout=10).json()
        config = yaml.safe_load(
            httpx.get(server.url + "/global_config_dict_yaml", timeout=10).json()
        )
    # As Gym 0.7.0: `name` is the implementation, process_name/config_path the instance.
    assert listing[0]["name"] == "simple_agent"
    assert listing[0]["process_name"] == listing[0]["config_path"] == "multi_step_agent"
    assert listing[0]["server_type"] == "responses_api_agents"
    assert listing[0]["url"] == "http://127.0.0.1:9"
    assert listing[0]["port"] == 9
    agent = config["multi_step_agent"]["responses_api_agents"]["simple_agent"]
    assert agent["resources_server"] == {
        "type": "resources_servers",
        "name": "multi_step_resources_server",
    }
