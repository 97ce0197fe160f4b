"""The hostile-server zoo: every server misbehaves on loopback, and gymcheck answers with a
finding within its deadline, a capped memory, and no secret in any output."""

from __future__ import annotations

import functools
import inspect
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile_servers import (
    blackhole,
    echo_forms,
    endless_body,
    huge_content_length,
    huge_generation,
    redirect_elsewhere,
    secret_echo,
    serving,
    trickle_body,
    trickle_headers,
    wrong_shapes,
)
from typer.testing import CliRunner

from gymcheck.checks.endpoint import check_http_endpoint
from gymcheck.cli import app
from gymcheck.openai_client import EndpointCallError, OpenAIClient

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-hostile-0123456789abcdefXYZ"
TIMEOUT_S = 0.5
"""Ten of the trickling servers' bytes: a per-read timeout this long would never fire."""
SLACK_S = 12.0
"""Generous: a bound that a slow CI machine cannot break, far below the minutes of a hang."""

LIGHT = {"burst": 2, "concurrency": 2}


def steps(result) -> dict[str, tuple[str, str]]:
    return {s.name: (s.status.value, str(s.data.get("detail", ""))) for s in result.steps}


@pytest.mark.parametrize("handler", [blackhole, trickle_headers, trickle_body])
def test_a_server_that_stalls_is_bounded_by_the_total_deadline(handler):
    with serving(handler) as server, OpenAIClient(server.url, timeout=TIMEOUT_S) as client:
        started = time.monotonic()
        with pytest.raises(EndpointCallError) as caught:
            client.models()
        elapsed = time.monotonic() - started
    assert caught.value.cause == "timeout"
    assert elapsed < TIMEOUT_S + SLACK_S


def test_gymcheck_endpoint_against_a_trickling_server_ends_within_its_timeout():
    with serving(trickle_headers) as server:
        started = time.monotonic()
        result = CliRunner().invoke(
            app, ["endpoint", "--base-url", server.url + "/v1", "--timeout", str(TIMEOUT_S)]
        )
        elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert "[timeout] GET /v1/models timed out" in result.output
    assert elapsed < TIMEOUT_S + SLACK_S


@pytest.mark.parametrize(
    ("handler", "words"),
    [
        (endless_body, "went past the 1,048,576-byte response cap; reading stopped there"),
        (huge_content_length, "declares 10,000,000,000 bytes, over the 1,048,576-byte response"),
    ],
)
def test_a_body_over_the_cap_is_refused_and_says_so(handler, words):
    with (
        serving(handler) as server,
        OpenAIClient(server.url, timeout=30, max_response_bytes=1 << 20) as client,
        pytest.raises(EndpointCallError) as caught,
    ):
        client.models()
    assert caught.value.cause == "too_large"
    assert words in str(caught.value)


def test_the_default_cap_stops_an_endless_body_in_the_endpoint_check():
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with serving(endless_body) as server:
        result = check_http_endpoint(server.url + "/v1", timeout=30, **LIGHT)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mb < 200  # the 32 MiB cap, twice over at most, not an endless read
    status, detail = steps(result)["models"]
    assert status == "fail"
    assert "[too_large]" in detail and "33,554,432-byte response cap" in detail


def test_a_redirect_is_not_followed():
    with serving(redirect_elsewhere) as server:
        result = check_http_endpoint(server.url + "/v1", api_key=SECRET, timeout=5, **LIGHT)
    status, detail = steps(result)["models"]
    assert status == "fail"
    assert "answered HTTP 302" in detail
    assert [r.path for r in server.requests] == ["/v1/models"]


def test_wrong_shapes_are_findings_not_tracebacks():
    with serving(wrong_shapes) as server:
        result = check_http_endpoint(server.url + "/v1", timeout=5, **LIGHT)
    assert result.status.value == "fail"
    status, detail = steps(result)["chat"]
    assert status == "fail"
    assert "answered a JSON list, not an object" in detail


def test_a_generation_past_max_tokens_is_its_own_finding():
    with serving(huge_generation) as server:
        result = check_http_endpoint(server.url + "/v1", timeout=30, **LIGHT)
    codes = [f.code for f in result.findings]
    assert "endpoint_max_tokens" in codes
    status, detail = steps(result)["max_tokens"]
    assert status == "fail"
    assert "asked for max_tokens 16 and got 50,000 generated tokens" in detail
    burst_status, burst = steps(result)["burst"]
    assert burst_status == "fail"
    assert "2 of 2 answers generated more than max_tokens 8 (up to 50,000 tokens)" in burst
    assert result.details["burst"]["over_max_tokens"] == 2


def leaks(text: str, secret: str) -> list[str]:
    return [form for form in [*echo_forms(secret), secret] if form in text]


def run_gymcheck(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gymcheck", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )


def test_no_secret_reaches_any_output_of_endpoint(tmp_path):
    with serving(secret_echo) as server:
        done = run_gymcheck(
            "endpoint",
            "--base-url",
            server.url + "/v1",
            "--api-key-env",
            "HOSTILE_KEY",
            "--timeout",
            "10",
            "--json",
            str(tmp_path / "r.json"),
            env={"HOSTILE_KEY": SECRET},
        )
    assert done.returncode == 1
    report = (tmp_path / "r.json").read_text()
    assert "[REDACTED]" in report
    assert leaks(done.stdout + done.stderr + report, SECRET) == []


@pytest.mark.slow
def test_no_secret_reaches_any_output_of_validate_through_the_agent(tmp_path):
    outputs = {flag: tmp_path / f"report.{flag[2:]}" for flag in ("--json", "--junit", "--html")}
    with serving(secret_echo) as server:
        base_url = f"http://gymuser:pw-{SECRET}@127.0.0.1:{server.port}/v1"
        done = run_gymcheck(
            "validate",
            "--base-url",
            base_url,
            "--api-key-env",
            "HOSTILE_KEY",
            *[part for flag, path in outputs.items() for part in (flag, str(path))],
            env={"HOSTILE_KEY": SECRET},
        )
    assert done.returncode == 1
    report = json.loads(outputs["--json"].read_text())
    failed = [f for f in report["findings"] if f["code"] == "rollout_failed"]
    assert failed and all("[REDACTED]" in f["message"] for f in failed)
    assert "gymuser" not in json.dumps(report["checks"])
    texts = [done.stdout, done.stderr, *(path.read_text() for path in outputs.values())]
    for text in texts:
        assert leaks(text, SECRET) == []
        assert f"pw-{SECRET}" not in text


def test_a_trickling_gym_head_is_bounded_by_the_discovery_deadline(monkeypatch):
    from gymcheck import collect

    # Discovery's GETs take DISCOVERY_TIMEOUT_S (10 s) by default; a shorter one here, so that
    # the test waits TIMEOUT_S. The rollout timeout is far longer: only discovery's can fire.
    default = inspect.signature(collect._get_json).parameters["deadline_s"].default
    assert default == collect.DISCOVERY_TIMEOUT_S
    monkeypatch.setattr(
        collect, "_get_json", functools.partial(collect._get_json, deadline_s=TIMEOUT_S)
    )
    with serving(trickle_headers) as server:
        started = time.monotonic()
        collection = collect.collect_rollouts(
            server.url, [{"responses_create_params": {}}], timeout=60
        )
        elapsed = time.monotonic() - started
    [finding] = collection.findings
    assert (finding.code, finding.details["cause"]) == ("rollout_failed", "timeout")
    assert elapsed < TIMEOUT_S + SLACK_S
