"""`gymcheck rollouts` end to end: the real fixture, a file planting every finding, bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import orjson
import pytest
import typer.main
from rollout_builders import (
    encode,
    make_record,
    plant_history_truncated,
    plant_reasoning_stripped,
    plant_rerendered,
    plant_retokenized,
    plant_system_edited,
    tito_turns,
)
from typer.testing import CliRunner

from gymcheck.cli import app
from gymcheck.scan import scan_rollouts


def invoke(*args: str):
    # With a single registered command typer runs it without its name; accept both layouts.
    prefix = ["rollouts"] if hasattr(typer.main.get_command(app), "list_commands") else []
    return CliRunner().invoke(app, [*prefix, *args])


def run_json(tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    out = tmp_path / "report.json"
    result = invoke(*args, "--json", str(out))
    return result.exit_code, json.loads(out.read_text()), result.output


def test_real_fixture_end_to_end(fixture_rollout_path, qwen3_dir, tmp_path):
    code, report, output = run_json(
        tmp_path, str(fixture_rollout_path), "--tokenizer", str(qwen3_dir)
    )
    assert code == 1
    assert report["passed"] is False
    [finding] = report["findings"]
    assert {
        k: finding[k]
        for k in (
            "source",
            "line",
            "rollout_index",
            "code",
            "severity",
            "cause",
            "turn",
            "token_index",
        )
    } == {
        "source": str(fixture_rollout_path),
        "line": 1,
        "rollout_index": 0,
        "code": "continuity_break",
        "severity": "error",
        "cause": "reasoning_stripped",
        "turn": 2,
        "token_index": 3089,
    }
    assert finding["expected"] and finding["actual"] and finding["message"]
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["rollout_collection"]["status"] == "pass"
    assert checks["token_continuity"]["summary"] == "1 of 1 rollouts break continuity"
    assert "continuity_break (reasoning_stripped)" in output and "token 3089" in output
    assert "Rollout scan summary" in output and "turns scanned" in output


def test_clean_file_exits_0(qwen3_tokenizer, tmp_path):
    path = tmp_path / "clean.jsonl"
    record = make_record(tito_turns(qwen3_tokenizer, 3))
    path.write_bytes(b"\n".join(orjson.dumps(record) for _ in range(3)) + b"\n")
    result = invoke(str(path))
    assert result.exit_code == 0, result.output
    assert "Token continuity validated across 9 turns" in result.output


def planted_file(tokenizer, path: Path) -> dict[int, list[tuple[str, str | None]]]:
    """Clean records mixed with one planted fault per line; the expected findings by line."""
    clean = make_record(tito_turns(tokenizer, 3))
    vocab = len(tokenizer)

    def variant(edit):
        record = copy.deepcopy(clean)
        edit(record)
        return record

    def out(record, k):
        return [i for i in record["response"]["output"] if "prompt_token_ids" in i][k]

    lines: list[tuple[bytes | dict, list[tuple[str, str | None]]]] = [
        (clean, []),
        (b'{"response": {"output": [', [("schema", None)]),
        (dict(clean, reward=3.0), [("reward_invalid", None)]),
        (clean, []),
        (variant(lambda r: r["response"].update(output=[])), [("no_trainable_output", None)]),
        (
            variant(lambda r: out(r, 2).update(generation_token_ids=[], generation_log_probs=[])),
            [("empty_generation", None)],
        ),
        (
            variant(lambda r: out(r, 1)["generation_log_probs"].pop()),
            [("logprobs_length_mismatch", None)],
        ),
        (
            variant(lambda r: out(r, 0)["generation_log_probs"].__setitem__(2, None)),
            [("logprobs_invalid", None)],
        ),
        (
            variant(lambda r: out(r, 2)["generation_token_ids"].__setitem__(1, vocab + 9)),
            [("token_id_out_of_range", None)],
        ),
        (make_record(plant_retokenized(tokenizer)), [("continuity_break", "retokenized")]),
        (
            make_record(plant_reasoning_stripped(tokenizer)),
            [("continuity_break", "reasoning_stripped")],
        ),
        (make_record(plant_rerendered(tokenizer)), [("continuity_break", "rerendered")]),
        (
            make_record(plant_history_truncated(tokenizer)),
            [("continuity_break", "history_truncated")],
        ),
        (make_record(plant_system_edited(tokenizer)), [("continuity_break", "history_edited")]),
        (clean, []),
        (variant(lambda r: r.update(response=[1, 2])), [("schema", None)]),
        (unknown_break(tokenizer), [("continuity_break", "unknown")]),
        (clean, []),
    ]
    path.write_bytes(
        b"".join((raw if isinstance(raw, bytes) else orjson.dumps(raw)) + b"\n" for raw, _ in lines)
    )
    return {number: expected for number, (_, expected) in enumerate(lines, start=1)}


def unknown_break(tokenizer) -> dict:
    turns = tito_turns(tokenizer, 2)
    first_prompt, first = turns[0]
    edited = first_prompt + encode(tokenizer, "No tool needed.") + first[-1:]
    second_prompt = edited + turns[1][0][len(first_prompt) + len(first) :]
    return make_record([turns[0], (second_prompt, turns[1][1])])


def by_line(findings) -> dict[int, list[tuple[str, str | None]]]:
    got: dict[int, list[tuple[str, str | None]]] = {}
    for f in findings:
        got.setdefault(f["line"], []).append((f["code"], f.get("cause")))
    return got


def test_every_planted_fault_on_its_own_line(qwen3_tokenizer, qwen3_dir, tmp_path):
    path = tmp_path / "mixed.jsonl"
    expected = planted_file(qwen3_tokenizer, path)
    code, report, _ = run_json(tmp_path, str(path), "--tokenizer", str(qwen3_dir))
    assert code == 1
    assert by_line(report["findings"]) == {n: e for n, e in expected.items() if e}
    for finding in report["findings"]:
        assert finding["rollout_index"] == finding["line"] - 1
        assert finding["source"] == str(path)
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["rollout_collection"]["details"]["rollouts"] == len(expected)


def test_workers_find_the_same_as_one_worker(qwen3_tokenizer, qwen3_dir, tmp_path):
    path = tmp_path / "mixed.jsonl"
    planted_file(qwen3_tokenizer, path)
    one = scan_rollouts([path], tokenizer=str(qwen3_dir))
    two = scan_rollouts([path], tokenizer=str(qwen3_dir), workers=2)
    assert [f.to_dict() for f in two.findings] == [f.to_dict() for f in one.findings]
    assert [c.details for c in two.checks] == [c.details for c in one.checks]


def test_bad_input_is_reported_by_line_and_scanning_continues(qwen3_tokenizer, tmp_path):
    clean = orjson.dumps(make_record(tito_turns(qwen3_tokenizer, 2)))
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                clean,
                b"this is not json",
                b'{"response": {"output": []}, "reward": "high"}',
                b'{"reward": 1.0, "response": {"output": [{"type": "\xff\xfe"}]}}',
                b"",
                clean,
                clean[: len(clean) // 2],  # the file ends mid-record
            ]
        )
    )
    code, report, output = run_json(tmp_path, str(path))
    assert code == 1
    assert "Traceback" not in output
    got = {(f["line"], f["code"]) for f in report["findings"]}
    assert got == {
        (2, "schema"),
        (3, "reward_invalid"),
        (3, "no_trainable_output"),
        (4, "schema"),
        (7, "schema"),
    }
    messages = {f["line"]: f["message"] for f in report["findings"] if f["code"] == "schema"}
    assert "not valid JSON" in messages[2]
    assert "byte 0xff" in messages[4] and "UTF-8" in messages[4]
    assert "cut off" in messages[7]
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["token_continuity"]["details"]["rollouts"] == 2


def test_empty_file_is_a_finding(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    code, report, output = run_json(tmp_path, str(path))
    assert code == 1
    assert [(f["code"], f["source"]) for f in report["findings"]] == [("schema", str(path))]
    assert "empty" in report["findings"][0]["message"]
    assert "Traceback" not in output


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_missing_file_or_directory_exits_2(tmp_path, kind):
    target = tmp_path / "nope.jsonl" if kind == "missing" else tmp_path
    result = invoke(str(target))
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert ("no such file" if kind == "missing" else "is a directory") in result.output


def test_unloadable_tokenizer_name_exits_2(fixture_rollout_path):
    result = invoke(str(fixture_rollout_path), "--tokenizer", "no-such-org/no-such-model")
    assert result.exit_code == 2
    assert "cannot load tokenizer 'no-such-org/no-such-model'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["1", "a,b", "1,0", "0,inf"])
def test_bad_reward_range_exits_2(fixture_rollout_path, value):
    result = invoke(str(fixture_rollout_path), "--reward-range", value)
    assert result.exit_code == 2
    assert "--reward-range" in result.output


def test_reward_range_flag(qwen3_tokenizer, tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(orjson.dumps(make_record(tito_turns(qwen3_tokenizer, 2), reward=-0.5)))
    assert invoke(str(path)).exit_code == 1
    assert invoke(str(path), "--reward-range", "-1,1").exit_code == 0
