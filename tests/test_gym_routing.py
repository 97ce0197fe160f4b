"""Row routing by NeMo Gym 0.7.0's rules, on a listing and config shaped like real Gym's.

The listing is what ``gym env start`` with ``example_single_tool_call.yaml`` serves (Gym generates
nothing here: that config declares its ``legacy_agent`` environment server itself).
"""

from __future__ import annotations

from typing import Any

import pytest

from gymcheck.gym_routing import GymDirectory, RoutingError, parse_instances, stamp_indices


def _entry(instance: str, server_type: str, implementation: str, port: int) -> dict[str, Any]:
    return {
        "config_path": instance,
        "host": "127.0.0.1",
        "name": implementation,
        "port": port,
        "process_name": instance,
        "server_type": server_type,
        "url": f"http://127.0.0.1:{port}",
    }


LISTING = [
    _entry("example_single_tool_call", "resources_servers", "example_single_tool_call", 1),
    _entry("example_single_tool_call_simple_agent", "responses_api_agents", "simple_agent", 2),
    _entry("example_single_tool_call_environment_server", "environment_servers", "legacy_agent", 3),
    _entry("policy_model", "responses_api_models", "vllm_model", 4),
]

CONFIG: dict[str, Any] = {
    "example_single_tool_call": {
        "resources_servers": {"example_single_tool_call": {"entrypoint": "app.py"}}
    },
    "example_single_tool_call_simple_agent": {
        "responses_api_agents": {
            "simple_agent": {
                "entrypoint": "app.py",
                "resources_server": {
                    "type": "resources_servers",
                    "name": "example_single_tool_call",
                },
                "model_server": {"type": "responses_api_models", "name": "policy_model"},
            }
        }
    },
    "example_single_tool_call_environment_server": {
        "environment_servers": {
            "legacy_agent": {
                "entrypoint": "app.py",
                "agent_server": {
                    "type": "responses_api_agents",
                    "name": "example_single_tool_call_simple_agent",
                },
            }
        }
    },
    "policy_model": {"responses_api_models": {"vllm_model": {"entrypoint": "app.py"}}},
    "policy_base_url": "http://127.0.0.1:9/v1",
}

AGENT = "example_single_tool_call_simple_agent"
ENV_SERVER_URL = "http://127.0.0.1:3"
ROW = {"responses_create_params": {"input": "hi"}}


def directory(config: dict[str, Any] | None = CONFIG) -> GymDirectory:
    return GymDirectory(parse_instances(LISTING), config)


def test_instances_are_named_by_process_name_with_the_implementation_beside():
    agents = directory().agents
    assert [(a.instance, a.implementation, a.url) for a in agents] == [
        (AGENT, "simple_agent", "http://127.0.0.1:2")
    ]


@pytest.mark.parametrize("name", [AGENT, "simple_agent"])
def test_agent_flag_by_instance_or_unambiguous_implementation(name: str):
    route = directory().route(ROW, name)
    assert route.agent == AGENT
    assert route.url == ENV_SERVER_URL  # through the legacy_agent relay, as Gym dispatches
    assert route.body["agent_ref"] == {"type": "responses_api_agents", "name": AGENT}


def test_row_agent_ref_routes_and_is_sent_unchanged():
    row = {**ROW, "agent_ref": {"type": "responses_api_agents", "name": AGENT, "extra": 1}}
    route = directory().route(row)
    assert (route.agent, route.url) == (AGENT, ENV_SERVER_URL)
    assert route.body == row


def test_agent_flag_overrides_the_rows_agent_ref_as_gym_eval_run_does():
    listing = [*LISTING, _entry("other_agent", "responses_api_agents", "simple_agent", 5)]
    row = {**ROW, "agent_ref": {"name": "other_agent"}}
    route = GymDirectory(parse_instances(listing), None).route(row, AGENT)
    assert route.agent == AGENT and route.body["agent_ref"]["name"] == AGENT


def test_without_a_config_the_row_goes_to_the_agents_own_run():
    assert directory(None).route(ROW, AGENT).url == "http://127.0.0.1:2"


def test_task_source_naming_a_resources_server_resolves_to_the_agent_that_references_it():
    route = directory().route({**ROW, "task_source": "example_single_tool_call"})
    assert route.agent == AGENT and route.url == ENV_SERVER_URL
    assert route.body["agent_ref"]["name"] == AGENT


def test_task_source_naming_an_agent_routes_to_it_even_without_a_config():
    assert directory(None).route({**ROW, "task_source": AGENT}).agent == AGENT


def test_task_source_pinned_by_the_datasets_agent_key():
    config = {**CONFIG, "second_agent": CONFIG[AGENT]}
    listing = [*LISTING, _entry("second_agent", "responses_api_agents", "simple_agent", 6)]
    resources = config["example_single_tool_call"]["resources_servers"]["example_single_tool_call"]
    with pytest.raises(RoutingError, match="2 agents reference this resources server"):
        GymDirectory(parse_instances(listing), config).resolve_task_source(
            "example_single_tool_call"
        )
    pinned = {
        **config,
        "example_single_tool_call": {
            "resources_servers": {
                "example_single_tool_call": {**resources, "datasets": [{"agent": "second_agent"}]}
            }
        },
    }
    routed = GymDirectory(parse_instances(listing), pinned).route(
        {**ROW, "task_source": "example_single_tool_call"}
    )
    assert routed.agent == "second_agent" and routed.url == "http://127.0.0.1:6"


def test_task_source_without_a_config_names_what_is_missing():
    with pytest.raises(RoutingError, match="global_config_dict_yaml"):
        directory(None).route({**ROW, "task_source": "example_single_tool_call"})


def test_row_with_no_routing_is_an_error_listing_instance_names():
    with pytest.raises(RoutingError, match=f"no agent_ref, no task_source.*{AGENT}"):
        directory().route(ROW)


def test_unknown_agent_lists_instances_and_suggests_the_close_one():
    with pytest.raises(RoutingError) as error:
        directory().route(ROW, "example_single_tool_call_simple_agnet")
    message = str(error.value)
    assert f"did you mean {AGENT!r}" in message
    assert f"agent instances: {AGENT}" in message


def test_non_agent_instance_is_named_for_what_it_is():
    with pytest.raises(RoutingError, match="is a resources_servers instance, not an agent"):
        directory().route(ROW, "example_single_tool_call")


def test_ambiguous_implementation_name_asks_for_the_instance():
    listing = [*LISTING, _entry("other_agent", "responses_api_agents", "simple_agent", 5)]
    with pytest.raises(
        RoutingError, match=r"implementation of 2 agents \(example_.*, other_agent\)"
    ):
        GymDirectory(parse_instances(listing), None).route(ROW, "simple_agent")


def test_agent_behind_two_environment_servers_cannot_be_chosen():
    config = {**CONFIG, "twin": CONFIG["example_single_tool_call_environment_server"]}
    with pytest.raises(RoutingError, match="several environment servers"):
        directory(config).route(ROW, AGENT)


def test_stamp_indices_like_gym_preprocessing():
    other = {"responses_create_params": {"input": "other"}}
    stamped = stamp_indices([ROW, other, ROW, {**ROW, "_ng_task_index": 7}])
    indices = [(r["_ng_task_index"], r["_ng_rollout_index"]) for r in stamped]
    assert indices == [(0, 0), (1, 0), (0, 1), (7, 0)]
    assert "_ng_task_index" not in ROW  # copies, the input rows are untouched
