"""Gym's prefix supply against gymcheck's reference server, through a real NeMo Gym 0.7.0.

``vllm_model_supply_prefix.yaml`` (``supply_prefix_token_ids: true``) sends a verified parent's
exact tokens as a top-level ``required_prefix_token_ids`` and accepts the answer only if its
generation-time ``prompt_token_ids`` start with them. Gym has a verified parent only under its
token capture (``token_id_capture.enabled``, for the agent or ``all_agents``), whose lineage store
matches each request to the recorded call it continues; it keys rollouts by the rows'
``_ng_task_index``/``_ng_rollout_index``, which gymcheck stamps as ``gym eval run`` does. The
capture records say, per model call, whether the prefix was requested and proven.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nemo_gym_peer import AGENT, GymPeer, validate_through

pytestmark = pytest.mark.nemo_gym


def _model_calls(record: dict) -> int:
    return sum("generation_token_ids" in item for item in record["response"]["output"])


def test_prefix_supply_is_requested_and_proven(
    gym_prefix_supply: GymPeer, gym_greedy_tasks: Path, tmp_path: Path
):
    _run, report, records = validate_through(
        gym_prefix_supply,
        tmp_path,
        "--agent",
        AGENT,
        "--input",
        str(gym_greedy_tasks),
        base_url=False,
    )
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["rollout_collection"] == "pass" and statuses["token_continuity"] == "pass"
    assert [_model_calls(r) for r in records] == [2] * len(records)
    # Gym's token capture records, per model call, whether it sent required_prefix_token_ids
    # (prefix_requested) and whether the generation-time prompt ids proved it (prefix_supplied).
    assert gym_prefix_supply.capture_dir is not None
    calls = [
        json.loads(line)
        for path in sorted(gym_prefix_supply.capture_dir.glob("*.tokens.jsonl"))
        for line in path.read_text().splitlines()
    ]
    roots = [c for c in calls if c["parent_resolution"] == "root"]
    continuations = [c for c in calls if c["parent_resolution"] == "resolved"]
    assert len(roots) == len(continuations) == len(records)
    assert all(c["prefix_requested"] and c["prefix_supplied"] for c in continuations)
    assert not any(c["prefix_requested"] for c in roots)
