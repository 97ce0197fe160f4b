"""`gymcheck gradients` end to end on rollouts sampled from a tiny Qwen2 saved to disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

import typer.main
from tiny_policy import sample_records, tiny_policy_dir
from typer.testing import CliRunner

from gymcheck.cli import app
from gymcheck.training import load_train_model


def invoke(*args: str):
    prefix = ["gradients"] if hasattr(typer.main.get_command(app), "list_commands") else []
    return CliRunner().invoke(app, [*prefix, *args])


@pytest.fixture(scope="module")
def rollouts_file(tmp_path_factory) -> Path:
    policy = load_train_model(str(tiny_policy_dir()))
    records = sample_records(policy, policy.tokenizer, temperature=0.7, count=2, tokens_per_turn=8)
    path = tmp_path_factory.mktemp("rollouts") / "rollouts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_healthy_rollouts_exit_0_with_json_and_plot(rollouts_file, tmp_path):
    out, png = tmp_path / "report.json", tmp_path / "plot.png"
    args = ["--rollouts", str(rollouts_file), "--train-model", str(tiny_policy_dir())]
    result = invoke(*args, "--temperature", "0.7", "--json", str(out), "--plot", str(png))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses == {"gradient_flow": "pass", "logprob_agreement": "pass"}
    agreement = next(c for c in report["checks"] if c["id"] == "logprob_agreement")
    assert agreement["details"]["n_tokens"] == 32
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Training signal summary" in result.output
    assert "token_mult_prob_error" in result.output


def test_wrong_temperature_exits_1_and_names_the_cause(rollouts_file, tmp_path):
    out = tmp_path / "report.json"
    args = ["--rollouts", str(rollouts_file), "--train-model", str(tiny_policy_dir())]
    result = invoke(*args, "--json", str(out))
    assert result.exit_code == 1
    report = json.loads(out.read_text())
    assert report["findings"][0]["code"] == "logprob_mismatch"
    assert report["findings"][0]["cause"] == "temperature_mismatch"
    assert "temperature_mismatch" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--rollouts", "/no/such.jsonl", "--train-model", "x"], "no such file"),
        (["--train-model", "json:nope"], "no callable"),
        (["--train-model", str(tiny_policy_dir()), "--dtype", "int3"], "dtype"),
    ],
)
def test_bad_input_exits_2_with_one_line(rollouts_file, args, needle):
    if "--rollouts" not in args:
        args = ["--rollouts", str(rollouts_file), *args]
    result = invoke(*args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_no_plot_says_why_when_there_are_no_logprobs(rollouts_file, tmp_path):
    stripped = tmp_path / "no_logprobs.jsonl"
    records = [json.loads(line) for line in rollouts_file.read_text().splitlines()]
    for record in records:
        for item in record["response"]["output"]:
            item.pop("generation_log_probs", None)
    stripped.write_text("".join(json.dumps(r) + "\n" for r in records))
    png = tmp_path / "plot.png"
    args = ["--rollouts", str(stripped), "--train-model", str(tiny_policy_dir())]
    result = invoke(*args, "--plot", str(png), "--html", str(tmp_path / "r.html"))
    assert not png.exists()
    words = " ".join(result.output.split())
    assert f"No plot written to {png}: logprob_agreement ended early (skip)" in words
    assert "No plot: logprob_agreement ended early (skip)" in (tmp_path / "r.html").read_text()
