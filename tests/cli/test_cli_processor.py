"""`--processor` / `--processed` through the CLI: `validate` passes a faithful processor in each
shape; `gradients` with a shifted mask fails `training_batch` and `gradient_flow` names the
wrong tokens; bad specs are usage errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import batch_processors as bp
import pytest
import rollout_builders as rb
import typer.main
from typer.testing import CliRunner

from gymcheck.cli import app

PROCESSORS = Path(bp.__file__)


def invoke(command: str, *args: str) -> Any:
    prefix = [command] if hasattr(typer.main.get_command(app), "list_commands") else []
    return CliRunner().invoke(app, [*prefix, *args])


def checks(path: Path) -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(path.read_text())["checks"]}


def assert_nothing_failed(result: Any, out: Path) -> None:
    """No check failed; without --base-url the run is a partial validation (skips only)."""
    report = json.loads(out.read_text())
    assert {c["status"] for c in report["checks"]} <= {"pass", "warn", "skip"}, result.output
    assert result.exit_code == (0 if report["passed"] else 1), result.output


@pytest.fixture(scope="module")
def rollouts_file(tmp_path_factory: pytest.TempPathFactory, qwen3_tokenizer: Any) -> Path:
    turns = rb.tito_turns(qwen3_tokenizer, 3)
    logprobs = [[-0.03 * (i % 13 + 1) for i in range(len(g))] for _, g in turns]
    records = [rb.make_record(turns, logprobs=logprobs), rb.make_record(turns[:2])]
    path = tmp_path_factory.mktemp("rollouts") / "rollouts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.mark.parametrize("shape", sorted(bp.FAITHFUL))
def test_validate_passes_training_batch_for_a_faithful_processor(
    shape: str, rollouts_file: Path, qwen3_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    name = bp.FAITHFUL[shape].__name__
    result = invoke(
        "validate",
        "--rollouts",
        str(rollouts_file),
        "--tokenizer",
        str(qwen3_dir),
        "--processor",
        f"{PROCESSORS}:{name}",
        "--json",
        str(out),
    )
    assert_nothing_failed(result, out)
    batch = checks(out)["training_batch"]
    assert batch["status"] == "pass" and batch["required"] is True
    assert batch["details"]["shapes"] == {shape: 2}
    assert f"processor {PROCESSORS}:{name}" in batch["details"]["processing"]
    assert "Testing the trainer's processed samples" in result.output


def test_validate_fails_on_a_planted_bug_with_its_code_and_position(
    rollouts_file: Path, qwen3_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    result = invoke(
        "validate",
        "--rollouts",
        str(rollouts_file),
        "--tokenizer",
        str(qwen3_dir),
        "--processor",
        f"{PROCESSORS}:verl_logprobs_zero",
        "--json",
        str(out),
    )
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    found = [f for f in report["findings"] if f["code"] == "batch_logprobs_placeholder"]
    assert [f["rollout_index"] for f in found] == [0, 1]
    assert found[0]["token_index"] == len(
        json.loads(rollouts_file.read_text().splitlines()[0])["response"]["output"][0][
            "prompt_token_ids"
        ]
    )


def test_processed_file_through_validate(
    rollouts_file: Path, qwen3_dir: Path, qwen3_tokenizer: Any, tmp_path: Path
) -> None:
    records = [json.loads(line) for line in rollouts_file.read_text().splitlines()]
    processed = tmp_path / "samples.jsonl"
    processed.write_text("".join(json.dumps(bp.trl(r, qwen3_tokenizer)) + "\n" for r in records))
    out = tmp_path / "report.json"
    result = invoke(
        "validate",
        "--rollouts",
        str(rollouts_file),
        "--tokenizer",
        str(qwen3_dir),
        "--processed",
        str(processed),
        "--batch-format",
        "trl",
        "--json",
        str(out),
    )
    assert_nothing_failed(result, out)
    assert checks(out)["training_batch"]["details"]["samples"] == 2


def test_validate_on_the_real_fixture_with_per_turn_samples(
    fixture_rollout_path: Path, qwen3_dir: Path, tmp_path: Path
) -> None:
    rollouts = tmp_path / "fixture.jsonl"
    rollouts.write_text(json.dumps(json.loads(fixture_rollout_path.read_text())) + "\n")
    out = tmp_path / "report.json"
    result = invoke(
        "validate",
        "--rollouts",
        str(rollouts),
        "--tokenizer",
        str(qwen3_dir),
        "--processor",
        f"{PROCESSORS}:hf",
        "--json",
        str(out),
    )
    by_id = checks(out)
    # vLLM re-rendered the fixture's tool calls: continuity fails, the per-turn samples pass.
    assert (by_id["token_continuity"]["status"], result.exit_code) == ("fail", 1)
    assert by_id["training_batch"]["status"] == "pass"
    assert by_id["training_batch"]["details"]["shapes"] == {"hf": 2}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--processor", "nowhere.py:process"], "no such file"),
        (["--processor", f"{PROCESSORS}:no_such_function"], "no callable"),
        (["--processor", "x:y", "--processed", "p.jsonl"], "not both"),
    ],
)
def test_bad_processing_is_a_usage_error(args: list[str], needle: str, rollouts_file: Path) -> None:
    result = invoke("validate", "--rollouts", str(rollouts_file), *args)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_a_shifted_mask_fails_training_batch_and_gradient_flow_names_the_wrong_tokens(
    tmp_path: Path,
) -> None:
    pytest.importorskip("torch")
    from tiny_policy import sample_records, tiny_policy_dir

    from gymcheck.training import load_train_model

    policy = load_train_model(str(tiny_policy_dir()))
    records = sample_records(policy, policy.tokenizer, count=2, tokens_per_turn=8)
    rollouts = tmp_path / "rollouts.jsonl"
    rollouts.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "report.json"
    result = invoke(
        "gradients",
        "--rollouts",
        str(rollouts),
        "--train-model",
        str(tiny_policy_dir()),
        "--processor",
        f"{PROCESSORS}:trl_mask_shifted",
        "--json",
        str(out),
    )
    assert result.exit_code == 1, result.output
    by_id = checks(out)
    assert by_id["training_batch"]["status"] == "fail"
    assert by_id["gradient_flow"]["status"] == "fail"
    assert by_id["gradient_flow"]["details"]["processing"].endswith("trl_mask_shifted")
    findings = json.loads(out.read_text())["findings"]
    shifted = next(f for f in findings if f["code"] == "batch_mask_shifted")
    first = records[0]["response"]["output"][0]
    start, end = (
        len(first["prompt_token_ids"]),
        len(first["prompt_token_ids"]) + len(first["generation_token_ids"]),
    )
    assert (shifted["rollout_index"], shifted["token_index"], shifted["details"]["shift"]) == (
        0,
        start,
        1,
    )
    outside = next(
        f
        for f in findings
        if f["code"] == "gradient_outside_generation" and f["rollout_index"] == 0
    )
    assert outside["token_index"] == end  # the tool-output token the shifted mask trains
    assert "Samples: processor" in result.output
