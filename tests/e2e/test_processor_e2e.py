"""`--processor` end to end over the embedded reference stack: real servers on loopback, the real
tiny reference model and its tokenizer. One collection run; every shape checked on its rollouts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import batch_processors as bp
import pytest

from gymcheck.reference.model import reference_model_dir

pytestmark = pytest.mark.slow

PROCESSORS = Path(bp.__file__)


def gymcheck(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gymcheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def checks(path: Path) -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(path.read_text())["checks"]}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The embedded stack validated with a NeMo RL processor; its rollouts saved."""
    out = tmp_path_factory.mktemp("e2e")
    rollouts, report = out / "rollouts.jsonl", out / "report.json"
    run = gymcheck(
        "validate",
        "--processor",
        f"{PROCESSORS}:nemo_rl",
        "--save-rollouts",
        str(rollouts),
        "--json",
        str(report),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return rollouts, report


def test_the_whole_suite_trains_and_scores_the_users_samples(collected: tuple[Path, Path]) -> None:
    _, report = collected
    by_id = checks(report)
    assert by_id["training_batch"]["status"] == "pass"
    for check_id in ("gradient_flow", "logprob_agreement"):
        assert by_id[check_id]["status"] == "pass"
        assert by_id[check_id]["details"]["processing"] == f"processor {PROCESSORS}:nemo_rl"


@pytest.mark.parametrize("shape", ["trl", "verl", "hf", "flat"])
def test_every_shape_passes_on_the_stacks_rollouts(
    shape: str, collected: tuple[Path, Path], tmp_path: Path
) -> None:
    rollouts, _ = collected
    report = tmp_path / "report.json"
    run = gymcheck(
        "validate",
        "--rollouts",
        str(rollouts),
        "--tokenizer",
        str(reference_model_dir()),
        "--processor",
        f"{PROCESSORS}:{bp.FAITHFUL[shape].__name__}",
        "--json",
        str(report),
    )
    assert run.returncode in (0, 1), run.stderr
    batch = checks(report)["training_batch"]
    assert batch["status"] == "pass", batch["summary"]
    assert set(batch["details"]["shapes"]) == {shape}


def test_a_shifted_mask_fails_training_batch_and_gradient_flow_with_the_reference_model(
    collected: tuple[Path, Path], tmp_path: Path
) -> None:
    rollouts, _ = collected
    report = tmp_path / "report.json"
    run = gymcheck(
        "validate",
        "--rollouts",
        str(rollouts),
        "--train-model",
        str(reference_model_dir()),
        "--processor",
        f"{PROCESSORS}:trl_mask_shifted",
        "--json",
        str(report),
    )
    assert run.returncode == 1, run.stdout + run.stderr
    by_id = checks(report)
    assert by_id["training_batch"]["status"] == "fail"
    assert by_id["gradient_flow"]["status"] == "fail"
    findings = json.loads(report.read_text())["findings"]
    records = [json.loads(line) for line in rollouts.read_text().splitlines()]
    turns = [[i for i in r["response"]["output"] if "generation_token_ids" in i] for r in records]
    # gradient_flow trains the first 4 rollouts; take one with a tool call (two model calls).
    index = next(k for k, t in enumerate(turns[:4]) if len(t) > 1)
    start = len(turns[index][0]["prompt_token_ids"])
    end = start + len(turns[index][0]["generation_token_ids"])
    shifted = next(
        f for f in findings if f["code"] == "batch_mask_shifted" and f["rollout_index"] == index
    )
    assert (shifted["token_index"], shifted["details"]["shift"]) == (start, 1)
    outside = next(
        f
        for f in findings
        if f["code"] == "gradient_outside_generation" and f["rollout_index"] == index
    )
    assert outside["token_index"] == end  # the tool-output token the shifted mask trains
