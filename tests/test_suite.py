"""``run_suite`` in-process over rollout files: every check in order, each record read once."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest
from rollout_builders import make_record, plant_reasoning_stripped, tito_turns

from gymcheck.checks.registry import check_ids
from gymcheck.checks.rollout_pass import RolloutPass
from gymcheck.report import ExitCode, Status
from gymcheck.suite import SuiteConfig, run_suite


@pytest.fixture
def rollouts_file(qwen3_tokenizer, tmp_path: Path) -> Path:
    clean = make_record(tito_turns(qwen3_tokenizer, 3))
    broken = make_record(plant_reasoning_stripped(qwen3_tokenizer))
    out_of_range = copy.deepcopy(clean)
    out_of_range["reward"] = 2.5
    path = tmp_path / "rollouts.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in (clean, broken, out_of_range)) + b"\n")
    return path


def test_suite_over_a_rollouts_file(rollouts_file, qwen3_dir, monkeypatch) -> None:
    inspected: list[str] = []
    real_record, real_clean = RolloutPass.add_record, RolloutPass.add_clean

    def add_record(self, record, **kwargs):
        inspected.append(f"line {kwargs['at'].line}")
        real_record(self, record, **kwargs)

    def add_clean(self, turns, **kwargs):
        inspected.append("clean")  # proven clean on the bytes (gymcheck.fastscan)
        real_clean(self, turns, **kwargs)

    monkeypatch.setattr(RolloutPass, "add_record", add_record)
    monkeypatch.setattr(RolloutPass, "add_clean", add_clean)
    seen: list[str] = []
    report = run_suite(
        SuiteConfig(rollouts=[rollouts_file], tokenizer=str(qwen3_dir)),
        on_result=lambda result: seen.append(result.id),
    )

    assert seen == [c.id for c in report.checks] == list(check_ids())
    checks = {c.id: c for c in report.checks}
    assert checks["http_endpoint"].status is Status.SKIP
    assert checks["training_batch"].status is Status.SKIP  # no processor
    assert checks["rollout_collection"].status is Status.FAIL
    assert checks["token_continuity"].status is Status.FAIL
    # One inspection per record serves both rollout checks.
    assert sorted(inspected) == ["clean", "line 2", "line 3"]

    [reward] = checks["rollout_collection"].findings
    assert (reward.code, reward.source, reward.line, reward.rollout_index) == (
        "reward_invalid",
        str(rollouts_file),
        3,
        2,
    )
    [brk] = checks["token_continuity"].findings
    assert (brk.cause, brk.line, brk.rollout_index, brk.turn) == ("reasoning_stripped", 2, 1, 2)
    assert report.exit_code() is ExitCode.FAILED


def test_a_missing_tokenizer_is_a_usage_error(rollouts_file, tmp_path) -> None:
    from gymcheck.errors import UsageError

    with pytest.raises(UsageError):
        run_suite(SuiteConfig(rollouts=[rollouts_file], tokenizer=str(tmp_path / "none")))
