"""`gymcheck validate --rollouts` alone is a partial validation (DESIGN.md section 1).

Clean rollouts exit 0 and every output names ``http_endpoint`` as not run; a broken record
still exits 1.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from rollout_builders import make_record, tito_turns
from typer.testing import CliRunner

from gymcheck.cli import app

NOT_RUN = (
    "Not run: http_endpoint (no --base-url: the endpoint is not part of this run); "
    "training_batch (no --processor or --processed: the trainer's own processing is not part "
    "of this run)."
)


def validate(tmp_path: Path, records: list[dict[str, Any]], tokenizer_dir: Path):
    rollouts = tmp_path / "rollouts.jsonl"
    rollouts.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = {kind: tmp_path / f"report.{kind}" for kind in ("json", "xml", "html")}
    run = CliRunner().invoke(
        app,
        [
            "validate",
            "--rollouts",
            str(rollouts),
            "--tokenizer",
            str(tokenizer_dir),
            "--json",
            str(out["json"]),
            "--junit",
            str(out["xml"]),
            "--html",
            str(out["html"]),
        ],
    )
    return run, {kind: path.read_text() for kind, path in out.items()}


def test_clean_rollouts_alone_exit_0_and_name_the_endpoint_as_not_run(
    tmp_path: Path, qwen3_tokenizer: Any, qwen3_dir: Path
) -> None:
    records = [make_record(tito_turns(qwen3_tokenizer)) for _ in range(2)]
    run, out = validate(tmp_path, records, qwen3_dir)
    assert run.exit_code == 0, run.output
    last = run.output.rstrip().splitlines()[-1]
    assert last == "✅ Partial validation: every check that ran passed. " + NOT_RUN
    assert "All validations passed" not in run.output
    assert "Some validations failed" not in run.output

    report = json.loads(out["json"])
    assert (report["passed"], report["partial"], report["not_run"]) == (
        True,
        True,
        ["http_endpoint", "training_batch"],
    )
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["http_endpoint"] == "skip"
    assert statuses["rollout_collection"] == statuses["token_continuity"] == "pass"

    cases = {c.get("name"): c for c in ET.fromstring(out["xml"]).iter("testcase")}
    skipped = cases["http_endpoint"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == (
        "required check not run: no --base-url: the endpoint is not part of this run"
    )
    assert cases["rollout_collection"].find("failure") is None

    assert "<title>gymcheck: Partial validation: every check that ran passed</title>" in out["html"]
    assert html.escape(NOT_RUN) in out["html"]


def test_a_broken_record_still_exits_1(
    tmp_path: Path, qwen3_tokenizer: Any, qwen3_dir: Path
) -> None:
    records = [make_record(tito_turns(qwen3_tokenizer)), make_record(tito_turns(qwen3_tokenizer))]
    records[1]["reward"] = 7.5  # outside the default range [0, 1]
    run, out = validate(tmp_path, records, qwen3_dir)
    assert run.exit_code == 1, run.output
    last = run.output.rstrip().splitlines()[-1]
    assert last == "⚠️  Some validations failed. Review the errors above. " + NOT_RUN
    report = json.loads(out["json"])
    assert (report["passed"], report["partial"]) == (False, True)
    assert [f["code"] for f in report["findings"] if f["code"] == "reward_invalid"] == [
        "reward_invalid"
    ]
    cases = {c.get("name"): c for c in ET.fromstring(out["xml"]).iter("testcase")}
    assert cases["rollout_collection"].find("failure") is not None
    assert "<title>gymcheck: Some validations failed</title>" in out["html"]
