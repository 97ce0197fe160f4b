"""Real NeMo Gym 0.7.0 output (tests/data/nemo_gym/README.md): the facts each file must reproduce,
without Gym running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gymcheck.checks.continuity import diagnose_continuity
from gymcheck.gym_routing import GymDirectory, parse_instances

DATA = Path(__file__).resolve().parent / "data" / "nemo_gym"
AGENT = "example_single_tool_call_simple_agent"
ENVIRONMENT_SERVER = "example_single_tool_call_environment_server"


def _records(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


def _calls(record: dict[str, Any]) -> int:
    return sum("generation_token_ids" in item for item in record["response"]["output"])


@pytest.fixture(scope="module")
def reference_tokenizer():
    from gymcheck.loading import load_tokenizer
    from gymcheck.reference.model import ensure_reference_model

    return load_tokenizer(ensure_reference_model())


def _breaks(
    records: list[dict[str, Any]], tokenizer
) -> list[tuple[int, str | None, int | None, int | None]]:
    return [
        (index, f.cause, f.turn, f.token_index)
        for index, record in enumerate(records)
        for f in diagnose_continuity(record, tokenizer=tokenizer)
    ]


def test_real_server_instances_route_by_instance_or_implementation():
    listing = json.loads((DATA / "server_instances.json").read_text())
    assert {(e["process_name"], e["config_path"], e["name"]) for e in listing} >= {
        (AGENT, AGENT, "simple_agent"),
        (ENVIRONMENT_SERVER, ENVIRONMENT_SERVER, "legacy_agent"),
    }
    config = {
        ENVIRONMENT_SERVER: {
            "environment_servers": {
                "legacy_agent": {"agent_server": {"type": "responses_api_agents", "name": AGENT}}
            }
        }
    }
    relay = next(e["url"] for e in listing if e["process_name"] == ENVIRONMENT_SERVER)
    directory = GymDirectory(parse_instances(listing), config)
    for name in (AGENT, "simple_agent"):
        route = directory.route({"responses_create_params": {}}, name)
        assert (route.agent, route.url) == (AGENT, relay)


def test_vllm_tool_calls_are_rerendered(reference_tokenizer):
    records = _records("vllm_tool_calls.jsonl")
    assert [r["reward"] for r in records] == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert [_calls(r) for r in records] == [1, 2, 2, 2, 1]
    assert _breaks(records, reference_tokenizer) == [
        (1, "retokenized", 2, 211),
        (2, "rerendered", 2, 210),
        (3, "rerendered", 2, 210),
    ]


def test_reference_server_splices_every_turn(reference_tokenizer):
    records = _records("reference_spliced.jsonl")
    assert [_calls(r) for r in records] == [2, 1, 2, 2, 2]
    first_items = [r["response"]["output"][1] for r in records if _calls(r) == 2]
    assert {i["type"] for i in first_items} == {"function_call"}
    assert _breaks(records, reference_tokenizer) == []


def test_gym_eval_run_jsonl_reads_clean(reference_tokenizer, tmp_path: Path):
    records = _records("gym_eval_run.jsonl")
    assert {r["agent_ref"]["name"] for r in records} == {AGENT}
    assert sorted(r["_ng_task_index"] for r in records) == [0, 1, 2, 3, 4]
    assert {r["_ng_rollout_index"] for r in records} == {0}
    assert {r["_ng_environment_server"] for r in records} == {ENVIRONMENT_SERVER}
    assert [_calls(r) for r in records] == [1, 1, 1, 1, 2]
    assert _breaks(records, reference_tokenizer) == []
    run = subprocess.run(
        [sys.executable, "-m", "gymcheck", "rollouts", str(DATA / "gym_eval_run.jsonl")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
