"""Findings are counted, not all kept: the console shows the first of each code and the
totals, the JSON report streams every one from disk, and --workers stays within the CPUs."""

from __future__ import annotations

import os

import orjson
import pytest
from hostile_records import clean_record, line
from typer.testing import CliRunner

from gymcheck.cli import app
from gymcheck.finding_store import KEEP_PER_GROUP
from gymcheck.scan import scan, worker_count

BAD_REWARDS = 300
NOT_JSON = 200


@pytest.fixture
def bad_file(tmp_path):
    """Clean, out-of-range-reward and not-JSON lines interleaved, over 2 MB (two ranges)."""
    padding = "p" * 4000
    lines = []
    for k in range(BAD_REWARDS):
        lines.append(line(clean_record(padding=padding)))
        lines.append(line(clean_record(reward=5.0, padding=padding)))
        if k < NOT_JSON:
            lines.append(b'{"reward": 1, "response": ' + padding.encode() + b"\n")
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"".join(lines))
    assert path.stat().st_size > 2 << 20
    return path


def expected_lines(code: str) -> list[int]:
    numbers, number = [], 0
    for k in range(BAD_REWARDS):
        number += 2
        if code == "reward_invalid":
            numbers.append(number)
        if k < NOT_JSON:
            number += 1
            if code == "schema":
                numbers.append(number)
    return numbers


@pytest.mark.parametrize("workers", [1, 2])
def test_a_scan_keeps_the_first_of_each_code_counts_all_and_spools_all(bad_file, workers):
    collection, _ = scan([bad_file], workers=workers, spool_findings=True).results()
    assert collection.finding_counts() == {
        ("reward_invalid", None): BAD_REWARDS,
        ("schema", None): NOT_JSON,
    }
    assert collection.findings_total == BAD_REWARDS + NOT_JSON
    kept = [(f.code, f.line) for f in collection.findings]
    assert len(kept) == 2 * KEEP_PER_GROUP
    assert [n for c, n in kept if c == "schema"] == expected_lines("schema")[:KEEP_PER_GROUP]
    every = list(collection.finding_dicts())
    for code in ("reward_invalid", "schema"):
        assert [f["line"] for f in every if f["code"] == code] == expected_lines(code)


def test_without_a_report_nothing_is_spooled_and_the_counts_stay_exact(bad_file):
    collection, _ = scan([bad_file]).results()
    assert collection.findings_total == BAD_REWARDS + NOT_JSON
    assert len(list(collection.finding_dicts())) == 2 * KEEP_PER_GROUP


def test_the_cli_shows_totals_and_the_json_lists_every_finding(bad_file, tmp_path):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["rollouts", str(bad_file), "--json", str(out)])
    assert result.exit_code == 1
    assert f"reward_invalid × {BAD_REWARDS}" in result.output
    assert f"{BAD_REWARDS + NOT_JSON:,} findings (exit 1)" in result.output
    report = orjson.loads(out.read_bytes())
    assert len(report["findings"]) == BAD_REWARDS + NOT_JSON
    schema = [f["line"] for f in report["findings"] if f["code"] == "schema"]
    assert schema == expected_lines("schema")


def test_workers_are_capped_by_cpus_and_by_the_work(bad_file, tmp_path):
    small = tmp_path / "small.jsonl"
    small.write_bytes(line(clean_record()))
    assert worker_count(1000, [bad_file]) <= (os.cpu_count() or 1)
    assert worker_count(1000, [small]) == 1
    assert worker_count(1, [bad_file]) == 1


def test_validate_rollouts_counts_what_rollouts_counts_at_the_same_lines(bad_file, tmp_path):
    by_rollouts, by_validate = tmp_path / "rollouts.json", tmp_path / "validate.json"
    first = CliRunner().invoke(app, ["rollouts", str(bad_file), "--json", str(by_rollouts)])
    second = CliRunner().invoke(
        app, ["validate", "--rollouts", str(bad_file), "--json", str(by_validate)]
    )
    assert (first.exit_code, second.exit_code) == (1, 1)
    scanned, validated = (orjson.loads(p.read_bytes()) for p in (by_rollouts, by_validate))

    def located(report: dict) -> list[tuple[str, str, int]]:
        return [(f["code"], f["source"], f["line"]) for f in report["findings"]]

    assert located(validated) == located(scanned)
    assert len(located(validated)) == BAD_REWARDS + NOT_JSON
    collection = {c["id"]: c for c in validated["checks"]}["rollout_collection"]
    rollouts = BAD_REWARDS * 2 + NOT_JSON
    assert collection["details"]["rollouts"] == rollouts
    assert collection["summary"].startswith(f"{BAD_REWARDS + NOT_JSON} of {rollouts} rollouts")


def test_the_junit_report_streams_a_testcase_for_every_finding(bad_file, tmp_path):
    from xml.etree import ElementTree as ET

    out = tmp_path / "report.xml"
    result = CliRunner().invoke(app, ["rollouts", str(bad_file), "--junit", str(out)])
    assert result.exit_code == 1
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    findings = [c for c in suite.iter("testcase") if c.get("line")]
    assert len(findings) == BAD_REWARDS + NOT_JSON
    assert suite.get("tests") == str(2 + BAD_REWARDS + NOT_JSON)
    assert suite.get("failures") == str(1 + BAD_REWARDS + NOT_JSON)  # the check, then each
    schema = [int(c.get("line", 0)) for c in findings if c.get("name", "").startswith("schema")]
    assert schema == expected_lines("schema")
