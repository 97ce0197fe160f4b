"""The conventions users reach for: --version, -h, --json - on stdout, --format github, -q/-v,
report files from every command, help that a person reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from gymcheck import __version__
from gymcheck.cli import app
from gymcheck.cli.output import redacted_command

COMMANDS = ("validate", "demo", "endpoint", "tokenizer", "rollouts", "gradients", "serve")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_version() -> None:
    result = invoke("--version")
    assert (result.exit_code, result.stdout) == (0, f"gymcheck {__version__}\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example_and_readable_metavars(command: str) -> None:
    result = invoke(command, "-h")
    assert result.exit_code == 0
    text = result.stdout
    assert "Example: gymcheck " + command in " ".join(text.split())
    assert "<list[" not in text and "<path>" not in text and "<text>" not in text
    assert "<bool>" not in text


def test_validate_help_is_grouped_in_panels() -> None:
    text = invoke("validate", "-h").stdout
    for panel in ("What to validate", "Training", "Reports", "Output"):
        assert f"─ {panel} ─" in text
    assert "URL" in text and "FILE" in text and "LO,HI" in text


def test_enumerated_options_are_choices() -> None:
    result = invoke("demo", "--fault", "no-such-fault")
    assert result.exit_code == 2 and "strip-reasoning" in result.output
    result = invoke("gradients", "--rollouts", "x.jsonl", "--train-model", "m", "--dtype", "int3")
    assert result.exit_code == 2 and "bfloat16" in result.output


def test_json_dash_writes_the_report_to_stdout(
    fixture_rollout_path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junit, html = tmp_path / "r.xml", tmp_path / "r.html"
    args = ["rollouts", str(fixture_rollout_path), "--json", "-", "--junit", str(junit)]
    args += ["--html", str(html)]
    monkeypatch.setattr(sys, "argv", ["/venv/bin/gymcheck", *args])
    result = invoke(*args)
    assert result.exit_code == 1
    report = json.loads(result.stdout)  # stdout holds the JSON alone
    assert report["findings"][0]["code"] == "continuity_break"
    assert report["run"]["command"] == f"gymcheck rollouts {fixture_rollout_path} --json - " + (
        f"--junit {junit} --html {html}"
    )
    assert report["run"]["target"] == str(fixture_rollout_path)
    assert "🔗 Testing token continuity..." in result.stderr
    assert "❌ 1 finding (exit 1)." in result.stderr
    cases = ET.parse(junit).getroot().iter("testcase")
    finding_cases = [c for c in cases if c.get("name", "").startswith("continuity_break")]
    assert [(c.get("file"), c.get("line")) for c in finding_cases] == [
        (str(fixture_rollout_path), "1")
    ]
    assert "continuity_break" in html.read_text()


def test_only_one_report_on_stdout(fixture_rollout_path) -> None:
    result = invoke("rollouts", str(fixture_rollout_path), "--json", "-", "--html", "-")
    assert result.exit_code == 2 and "only one of" in result.output


def test_format_github_prints_annotations(fixture_rollout_path) -> None:
    result = invoke("rollouts", str(fixture_rollout_path), "--format", "github")
    [line] = [ln for ln in result.stdout.splitlines() if ln.startswith("::")]
    assert line.startswith(
        f"::error file={fixture_rollout_path},line=1,title=token_continuity%3A continuity_break "
        "(unknown)::"
    )
    assert "rollout 0, turn 2, token 3089" in line


def test_quiet_prints_only_the_summary(fixture_rollout_path) -> None:
    loud = invoke("rollouts", str(fixture_rollout_path))
    quiet = invoke("rollouts", str(fixture_rollout_path), "-q")
    assert loud.exit_code == quiet.exit_code == 1
    assert "Testing token continuity" in loud.stdout
    assert "Testing token continuity" not in quiet.stdout
    assert "Rollout scan summary" in quiet.stdout
    both = invoke("rollouts", str(fixture_rollout_path), "-q", "-v")
    assert both.exit_code == 2


def test_the_command_line_is_redacted() -> None:
    argv = ["/venv/bin/gymcheck", "validate", "--base-url", "http://user:pw@host:8000/v1"]
    argv += ["--api-key", "sk-123", "--token=abc", "--api-key-env", "MY_KEY"]
    argv += ["--tokenizer", "/models/qwen3"]
    assert redacted_command(argv) == (
        "gymcheck validate --base-url 'http://***@host:8000/v1' --api-key '***' "
        "'--token=***' --api-key-env MY_KEY --tokenizer /models/qwen3"
    )


def test_tokenizer_writes_every_report(qwen3_dir, tmp_path: Path) -> None:
    junit, html = tmp_path / "t.xml", tmp_path / "t.html"
    args = ["tokenizer", "--tokenizer", str(qwen3_dir), "--junit", str(junit)]
    result = invoke(*args, "--html", str(html), "--json", "-")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["checks"][0]["id"] == "token_roundtrip"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("tests") == str(1 + len(report["findings"]))
    assert html.read_text().startswith("<!doctype html>")
