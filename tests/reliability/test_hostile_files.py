"""The hostile-file zoo: special files, compressed dumps, huge lines and report paths that are
inputs. Each is one line and exit 2, or a finding at its line; nothing blocks or is overwritten."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import zstandard
from hostile_records import clean_record, line, with_literal
from typer.testing import CliRunner

from gymcheck.cli import app

REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def one_error_line(output: str) -> str:
    lines = [text for text in output.splitlines() if text.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_a_fifo_with_no_writer_is_a_usage_error_not_a_hang(tmp_path):
    fifo = tmp_path / "rollouts.jsonl"
    os.mkfifo(fifo)
    # A subprocess, so that a regression hangs it and not the test run.
    done = subprocess.run(
        [sys.executable, "-m", "gymcheck", "rollouts", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2
    assert "is a FIFO (named pipe), not a regular file" in one_error_line(done.stderr)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda tmp: Path("/dev/zero"), "a character device"),
        (lambda tmp: tmp, "a directory"),
    ],
)
def test_special_files_are_usage_errors(tmp_path, make, kind):
    result = invoke("rollouts", str(make(tmp_path)))
    assert result.exit_code == 2
    assert f"is {kind}, not a regular file" in one_error_line(result.output)


def test_a_unix_socket_is_a_usage_error(tmp_path):
    path = tmp_path / "s.jsonl"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        result = invoke("rollouts", str(path))
    finally:
        server.close()
    assert result.exit_code == 2
    assert "is a socket, not a regular file" in one_error_line(result.output)


@pytest.mark.parametrize(
    ("name", "pack"),
    [("dump.jsonl.gz", gzip.compress), ("dump.jsonl.zst", zstandard.compress)],
)
def test_a_compressed_dump_is_read(tmp_path, name, pack):
    path = tmp_path / name
    path.write_bytes(pack(line(clean_record()) * 3))
    result = invoke("rollouts", str(path))
    assert result.exit_code == 0, result.output
    assert "No findings" in result.output


def test_a_corrupt_compressed_dump_is_a_finding_not_a_crash(tmp_path):
    path = tmp_path / "dump.jsonl.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + line(clean_record()) * 3)  # zstd magic, no frame
    result = invoke("rollouts", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "zstd stream is corrupt or cut off" in result.output


def test_a_line_over_the_cap_is_a_finding_and_the_scan_goes_on(tmp_path):
    path = tmp_path / "rollouts.jsonl"
    huge = clean_record(padding="x" * 5000)
    path.write_bytes(line(clean_record()) + line(huge) + line(clean_record(reward=9.0)))
    out = tmp_path / "report.json"
    result = invoke("rollouts", str(path), "--max-line-bytes", "4096", "--json", str(out))
    assert result.exit_code == 1
    findings = orjson.loads(out.read_bytes())["findings"]
    assert [(f["code"], f["line"]) for f in findings] == [("schema", 2), ("reward_invalid", 3)]
    assert "over the line-size cap" in findings[0]["message"]


@pytest.mark.parametrize("flag", ["--json"])
def test_a_report_path_that_is_the_input_is_refused(tmp_path, flag):
    path = tmp_path / "rollouts.jsonl"
    original = line(clean_record())
    path.write_bytes(original)
    result = invoke("rollouts", str(path), flag, str(path))
    assert result.exit_code == 2
    assert "refusing to overwrite it" in one_error_line(result.output)
    assert path.read_bytes() == original


@pytest.mark.parametrize("link", [os.symlink, os.link])
def test_a_report_path_linked_to_the_input_is_refused(tmp_path, link):
    path = tmp_path / "rollouts.jsonl"
    original = line(clean_record())
    path.write_bytes(original)
    alias = tmp_path / "report.json"
    link(path, alias)
    result = invoke("rollouts", str(path), "--json", str(alias))
    assert result.exit_code == 2
    assert "is the input file" in one_error_line(result.output)
    assert path.read_bytes() == original


@pytest.mark.parametrize("flag", ["--json", "--junit", "--html", "--save-rollouts"])
def test_validate_refuses_to_write_a_report_over_its_rollouts(tmp_path, flag):
    path = tmp_path / "rollouts.jsonl"
    original = line(clean_record())
    path.write_bytes(original)
    result = invoke("validate", "--rollouts", str(path), flag, str(path))
    assert result.exit_code == 2
    assert "refusing to overwrite it" in one_error_line(result.output)
    assert path.read_bytes() == original


@pytest.mark.parametrize(
    ("flag", "what"), [("--strings", "strings file"), ("--chat-template", "chat template")]
)
def test_a_fifo_as_a_small_input_is_a_usage_error_not_a_hang(tmp_path, flag, what):
    fifo = tmp_path / "input.txt"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "gymcheck", "tokenizer", "--tokenizer", "x", flag, str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2
    assert f"{what}: {fifo}: is a FIFO (named pipe)" in one_error_line(done.stderr)


@pytest.mark.parametrize(
    ("field", "literal", "code"),
    [
        ("reward", "1" + "0" * 400, "reward_invalid"),
        ("logprob", "-1" + "0" * 400, "logprobs_invalid"),
    ],
)
def test_an_integer_past_a_float_is_a_finding_not_a_crash(tmp_path, field, literal, code):
    # NaN makes orjson refuse the line, so Python's json reads it, integers of any size included.
    record = clean_record(x="NAN")
    if field == "reward":
        record["reward"] = "BIG"
    else:
        record["response"]["output"][0]["generation_log_probs"][0] = "BIG"
    path = tmp_path / "dump.jsonl"
    path.write_bytes(with_literal(record, "BIG", literal).replace(b'"NAN"', b"NaN"))
    result = invoke("rollouts", str(path), "--json", "-")
    assert result.exit_code == 1, result.output
    assert code in {finding["code"] for finding in orjson.loads(result.stdout)["findings"]}
