"""``run_suite`` in-process over rollout files: every check in order, each record read once."""

from __future__ import annotations

import copy
from collections import Counter
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


def test_validate_with_the_training_checks_parses_each_line_once(
    rollouts_file, qwen3_dir, monkeypatch
) -> None:
    """The rollout checks and training_batch are served from one reading of the file: every
    line is parsed whole once (no second pass for the checks that train on the records; the
    fast path's parse of a line's skeleton is not the line)."""
    from batch_processors import nemo_rl

    lines = rollouts_file.read_bytes().splitlines(keepends=True)
    parsed: list[bytes] = []
    real_loads = orjson.loads

    def loads(data):
        parsed.append(bytes(data))
        return real_loads(data)

    monkeypatch.setattr(orjson, "loads", loads)
    report = run_suite(
        SuiteConfig(rollouts=[rollouts_file], tokenizer=str(qwen3_dir), processor=nemo_rl)
    )

    checks = {c.id: c for c in report.checks}
    assert checks["training_batch"].details["rollouts"] == len(lines) == 3
    assert checks["rollout_collection"].details["rollouts"] == 3
    assert Counter(p for p in parsed if p in lines) == Counter(lines)


def test_records_in_memory_are_inspected_once_and_trained_as_given(qwen3_tokenizer) -> None:
    from batch_processors import nemo_rl

    from gymcheck.checks.context import CheckContext
    from gymcheck.processing import load_processing
    from gymcheck.rollout_inputs import RecordList
    from gymcheck.running import run_checks

    records = [make_record(tito_turns(qwen3_tokenizer, 3)) for _ in range(2)]
    processed: list[object] = []

    def processor(record, tokenizer):
        processed.append(record)
        return nemo_rl(record, tokenizer)

    inspected: list[object] = []
    real_record = RolloutPass.add_record

    def add_record(self, record, **kwargs):
        inspected.append(record)
        real_record(self, record, **kwargs)

    context = CheckContext(
        tokenizer=qwen3_tokenizer,
        rollouts=RecordList(records),
        processor=load_processing(processor=processor),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RolloutPass, "add_record", add_record)
        report = run_checks(["rollout_collection", "token_continuity", "training_batch"], context)
    assert [c.status for c in report.checks] == [Status.PASS] * 3
    assert [id(r) for r in inspected] == [id(r) for r in processed] == [id(r) for r in records]
