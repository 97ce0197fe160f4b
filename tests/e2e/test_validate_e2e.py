"""`gymcheck validate` and `gymcheck demo --fault` end to end: real processes, real servers on
loopback, the embedded reference stack with its real tiny model."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import orjson
import pytest

from gymcheck.checks.registry import check_ids
from gymcheck.reference.faults import FAULTS, FORCED_TEMPERATURE, Fault

pytestmark = pytest.mark.slow

CHECK_ORDER = check_ids()

# The finding each fault must produce in the check meant to catch it: (code, cause or None).
# Sending history as text also re-serializes tool-call JSON (numbers lose digits), so under
# `retokenize` some breaks are honestly `rerendered`; at least one must be `retokenized`.
ALSO_ALLOWED: dict[Fault, set[str]] = {Fault.RETOKENIZE: {"rerendered"}}
EXPECTED_FINDING: dict[Fault, tuple[str, str | None]] = {
    Fault.RETOKENIZE: ("continuity_break", "retokenized"),
    Fault.STRIP_REASONING: ("continuity_break", "reasoning_stripped"),
    Fault.TRUNCATE_HISTORY: ("continuity_break", "history_truncated"),
    Fault.REWARD_OUT_OF_RANGE: ("reward_invalid", None),
    Fault.WRONG_TOKENIZER: ("roundtrip_failure", None),
    Fault.DETACHED_PARAMETER: ("gradient_missing", None),
    Fault.PROCESSED_LOGPROBS: ("logprob_mismatch", "temperature_mismatch"),
}
# Where the finding points at what was planted: (details key, test of its value).
PLANTED_EVIDENCE: dict[Fault, tuple[str, Callable[[Any], bool]]] = {
    Fault.WRONG_TOKENIZER: ("category", lambda category: category == "whitespace"),
    Fault.DETACHED_PARAMETER: (
        "no_grad",
        lambda names: names == ["model.norm.parametrizations.weight.original"],
    ),
    Fault.PROCESSED_LOGPROBS: (
        "fitted_temperature",
        lambda fitted: abs(fitted - FORCED_TEMPERATURE) < 0.05,
    ),
}
# http_endpoint faults are named by the sub-check (step) that must fail.
EXPECTED_FAILING_STEP: dict[Fault, str] = {
    Fault.DROP_TOKEN_IDS: "token_info",
    Fault.BAD_LOGPROBS: "counts",
    Fault.TOP_LOGPROBS_NULL: "top_logprobs_null",
}


def gymcheck(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gymcheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def checks_by_id(report: dict) -> dict[str, dict]:
    return {check["id"]: check for check in report["checks"]}


def test_validate_passes_on_the_embedded_stack(tmp_path: Path) -> None:
    out = {name: tmp_path / f"report.{name}" for name in ("json", "xml", "html")}
    rollouts = tmp_path / "rollouts.jsonl"
    run = gymcheck(
        "validate",
        "--json",
        str(out["json"]),
        "--junit",
        str(out["xml"]),
        "--html",
        str(out["html"]),
        "--save-rollouts",
        str(rollouts),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.rstrip().endswith("🎉 All validations passed! Your integration is ready.")
    assert "Traceback" not in run.stdout + run.stderr

    report = orjson.loads(out["json"].read_bytes())
    assert report["passed"] is True
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert list(statuses) == list(CHECK_ORDER)
    assert set(statuses.values()) == {"pass"}, statuses
    assert report["findings"] == [] or all(f["severity"] != "error" for f in report["findings"])

    suite = ET.parse(out["xml"]).getroot().find("testsuite")
    assert suite is not None
    # One testcase per check, and one per finding under its check (notes pass).
    assert suite.get("tests") == str(len(CHECK_ORDER) + len(report["findings"]))
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert out["html"].read_text().startswith("<!doctype html>")

    # What the embedded stack collected is a NeMo Gym JSONL that `gymcheck rollouts` accepts.
    lines = rollouts.read_bytes().splitlines()
    assert len(lines) >= 4
    records = [orjson.loads(line) for line in lines]
    assert any(
        sum("generation_token_ids" in item for item in r["response"]["output"]) >= 2
        for r in records
    )
    scan = gymcheck("rollouts", str(rollouts))
    assert scan.returncode == 0, scan.stdout + scan.stderr


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
def test_each_fault_fails_its_check_and_nothing_before_it(fault: Fault, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    run = gymcheck("demo", "--fault", fault.value, "--json", str(out))
    assert "Traceback" not in run.stdout + run.stderr
    report = orjson.loads(out.read_bytes())
    checks = checks_by_id(report)
    target = FAULTS[fault].caught_by
    assert checks[target]["status"] == "fail", checks[target]
    # An optional check that fails does not fail the run (DESIGN.md section 2).
    assert run.returncode == (1 if checks[target]["required"] else 0), run.stdout + run.stderr

    before = CHECK_ORDER[: CHECK_ORDER.index(target)]
    assert {cid: checks[cid]["status"] for cid in before} == dict.fromkeys(before, "pass")

    if fault in EXPECTED_FINDING:
        code, cause = EXPECTED_FINDING[fault]
        hits = [f for f in report["findings"] if f["code"] == code]
        assert hits, report["findings"]
        if cause is not None:
            causes = {f.get("cause") for f in hits}
            assert cause in causes
            assert causes <= {cause} | ALSO_ALLOWED.get(fault, set()), causes
            if code == "continuity_break":
                assert all(f["turn"] >= 2 and f["token_index"] >= 0 for f in hits)
        if fault in PLANTED_EVIDENCE:
            key, value = PLANTED_EVIDENCE[fault]
            assert all(value(f["details"][key]) for f in hits), hits
    else:
        failing = [s["name"] for s in checks[target]["steps"] if s["status"] == "fail"]
        assert failing == [EXPECTED_FAILING_STEP[fault]], checks[target]["steps"]


def test_unknown_fault_is_a_usage_error() -> None:
    run = gymcheck("demo", "--fault", "no-such-fault")
    assert run.returncode == 2
    words = " ".join(run.stderr.replace("│", " ").split())  # click's error box, unwrapped
    assert "'no-such-fault' is not one of 'retokenize'" in words
    assert "Traceback" not in run.stderr


def test_missing_rollouts_file_is_a_usage_error(tmp_path: Path) -> None:
    run = gymcheck("validate", "--rollouts", str(tmp_path / "nope.jsonl"))
    assert run.returncode == 2
    assert "no such file" in run.stderr


def test_validate_through_a_gym_head_server_and_from_saved_rollouts(tmp_path: Path) -> None:
    """Path (b), as against real NeMo Gym: discover the agent through the head server's
    /server_instances and POST each task row to its /run. Then path (c): the saved JSONL."""
    from gymcheck.reference.stack import start_stack

    rows = tmp_path / "tasks.jsonl"
    saved = tmp_path / "rollouts.jsonl"
    report_path = tmp_path / "report.json"
    with start_stack() as stack:
        rows.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in stack.tasks))
        run = gymcheck(
            "validate",
            "--base-url",
            stack.base_url,
            "--gym-url",
            stack.gym_url,
            "--input",
            str(rows),
            "--tokenizer",
            str(stack.model_dir),
            "--train-model",
            str(stack.model_dir),
            "--save-rollouts",
            str(saved),
            "--json",
            str(report_path),
        )
    assert run.returncode == 0, run.stdout + run.stderr
    statuses = {c["id"]: c["status"] for c in orjson.loads(report_path.read_bytes())["checks"]}
    # No --processor: the trainer's processing is not part of this run.
    assert statuses.pop("training_batch") == "skip"
    assert set(statuses.values()) == {"pass"}, statuses
    assert len(saved.read_bytes().splitlines()) == len(stack.tasks)

    offline = gymcheck(
        "validate",
        "--rollouts",
        str(saved),
        "--tokenizer",
        str(stack.model_dir),
        "--train-model",
        str(stack.model_dir),
        "--json",
        str(report_path),
    )
    statuses = {c["id"]: c["status"] for c in orjson.loads(report_path.read_bytes())["checks"]}
    # No endpoint in this run: it is skipped with the reason, and the rest still pass.
    assert statuses.pop("http_endpoint") == "skip"
    assert statuses.pop("training_batch") == "skip"
    assert set(statuses.values()) == {"pass"}, statuses
    # A partial validation: everything that ran passed, and the closing line says what did not run.
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert offline.stdout.rstrip().splitlines()[-1] == (
        "✅ Partial validation: every check that ran passed. "
        "Not run: http_endpoint (no --base-url: the endpoint is not part of this run); "
        "training_batch (no --processor or --processed: the trainer's own processing is not "
        "part of this run)."
    )


def test_ctrl_c_stops_the_embedded_stack_cleanly() -> None:
    """SIGINT mid-run: the servers stop, the process exits promptly, no traceback."""
    import os
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "gymcheck", "validate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        for line in process.stdout:
            if "Testing HTTP endpoint" in line or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
