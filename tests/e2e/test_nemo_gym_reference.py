"""gymcheck against a real NeMo Gym 0.7.0 whose policy model is gymcheck's reference server.

Gym's ``vllm_model`` (``vllm_model_for_training.yaml``) sends each earlier assistant turn back
with its ``prompt_token_ids``, ``generation_token_ids`` and ``generation_log_probs``; the
reference server splices them into the next prompt, as NeMo RL's server does, so every turn is
contiguous. With ``vllm_model_supply_prefix.yaml`` and Gym's token capture, Gym also sends the
verified parent's tokens as a top-level ``required_prefix_token_ids`` and checks the
generation-time prompt ids; its capture records say whether it did.

Rows are routed as Gym routes them: by the agent's instance name (``--agent`` or the rows'
``agent_ref``), by its implementation name while only one agent has it, by ``task_source``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nemo_gym_peer import (
    AGENT,
    AGENT_IMPLEMENTATION,
    GymPeer,
    gym_eval_run,
    gymcheck,
    task_rows,
    validate_through,
)

from gymcheck.collect import collect_rollouts

pytestmark = pytest.mark.nemo_gym


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def _model_calls(record: dict[str, Any]) -> int:
    return sum("generation_token_ids" in item for item in record["response"]["output"])


def test_collection_and_continuity_pass_through_gym(
    gym_reference: GymPeer, gym_greedy_tasks: Path, tmp_path: Path
):
    run, report, records = validate_through(
        gym_reference, tmp_path, "--agent", AGENT, "--input", str(gym_greedy_tasks)
    )
    statuses = _statuses(report)
    assert statuses["rollout_collection"] == "pass", report
    assert len(records) == len(task_rows(greedy=True))
    # Every rollout called the tool, then the model again: the second prompt holds the first
    # call re-rendered by the template, unless the server spliced the exact ids back in.
    assert [_model_calls(r) for r in records] == [2] * len(records)
    assert all(r["response"]["output"][1]["type"] == "function_call" for r in records)
    assert statuses["token_continuity"] == "pass", [f for f in report["findings"]]
    assert not [f for f in report["findings"] if f["code"] == "continuity_break"]
    assert statuses["http_endpoint"] == "pass"
    assert run.returncode == 0, run.stdout[-3000:]


@pytest.mark.parametrize("agent", [AGENT, AGENT_IMPLEMENTATION])
def test_agent_flag_by_instance_or_implementation_name(gym_reference: GymPeer, agent: str):
    collection = collect_rollouts(
        gym_reference.head_url, task_rows(greedy=True)[:2], agent=agent, timeout=300
    )
    assert not collection.findings, [f.message for f in collection.findings]
    assert len(collection.records) == 2
    assert collection.agents.keys() == {AGENT}


def test_rows_with_agent_ref_or_task_source_route_without_the_flag(gym_reference: GymPeer):
    by_ref, by_source = task_rows(greedy=True)[:2]
    by_ref["agent_ref"] = {"type": "responses_api_agents", "name": AGENT}
    by_source["task_source"] = "example_single_tool_call"  # the resources server's instance
    collection = collect_rollouts(gym_reference.head_url, [by_ref, by_source], timeout=300)
    assert not collection.findings, [f.message for f in collection.findings]
    assert len(collection.records) == 2


def test_rows_naming_no_agent_fail_listing_the_instances(gym_reference: GymPeer):
    collection = collect_rollouts(gym_reference.head_url, task_rows(greedy=True)[:2], timeout=60)
    assert not collection.records
    assert [f.cause for f in collection.findings] == ["agent_not_found"] * 2
    assert f"agent instances: {AGENT}" in collection.findings[0].message
    wrong = collect_rollouts(
        gym_reference.head_url,
        task_rows(greedy=True)[:1],
        agent="example_single_tool_call",
        timeout=60,
    )
    assert "is a resources_servers instance, not an agent" in wrong.findings[0].message


def test_jsonl_written_by_gym_eval_run_validates(
    gym_reference: GymPeer, gym_greedy_tasks: Path, tmp_path: Path
):
    output = tmp_path / "gym_rollouts.jsonl"
    ran = gym_eval_run(gym_reference, gym_greedy_tasks, output)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(records) == len(task_rows(greedy=True))
    assert {r["agent_ref"]["name"] for r in records} == {AGENT}
    report_path = tmp_path / "report.json"
    run = gymcheck(
        "validate",
        "--rollouts",
        str(output),
        "--tokenizer",
        str(gym_reference.tokenizer_dir),
        "--json",
        str(report_path),
    )
    statuses = _statuses(json.loads(report_path.read_text()))
    assert statuses["rollout_collection"] == "pass" and statuses["token_continuity"] == "pass"
    assert statuses["http_endpoint"] == "skip", run.stdout[-2000:]
