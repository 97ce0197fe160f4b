"""``http_endpoint`` against the real reference server, healthy and behind a fault proxy.

Each fault must fail exactly the sub-check named for it, with its message; nothing may hang or
leak the API key.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from fault_proxy import FaultProxy, ProxyFault
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from gymcheck.checks.endpoint import STEP_NAMES, check_http_endpoint
from gymcheck.cli import app
from gymcheck.reference.faults import Fault
from gymcheck.reference.serving import BackgroundServer, free_port
from gymcheck.render import jsonout
from gymcheck.render.words import step_text
from gymcheck.report import CheckResult, Report, Status

SECRET = "sk-gymcheck-secret-0123456789"
LIGHT = {"burst": 4, "concurrency": 2}


@pytest.fixture(scope="module")
def model_dir() -> Path:
    from gymcheck.reference.model import ensure_reference_model

    return ensure_reference_model()


@pytest.fixture(scope="module")
def reference_url(model_dir: Path) -> Iterator[str]:
    from gymcheck.reference.server import create_app

    with BackgroundServer(create_app(model_dir)) as server:
        yield server.url


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path):
    from gymcheck.loading import load_tokenizer

    return load_tokenizer(model_dir)


def invoke(*args: str):
    prefix = ["endpoint"] if hasattr(typer.main.get_command(app), "list_commands") else []
    return CliRunner().invoke(app, [*prefix, *args])


def steps(result: CheckResult) -> dict[str, tuple[Status, str]]:
    return {s.name: (s.status, step_text(result.id, s)) for s in result.steps}


def failing(result: CheckResult) -> list[str]:
    return [s.name for s in result.steps if s.status is Status.FAIL]


def test_healthy_reference_server_passes_and_splices(reference_url: str, tokenizer) -> None:
    result = check_http_endpoint(reference_url + "/v1", tokenizer=tokenizer)
    by_name = steps(result)
    assert [s.name for s in result.steps] == list(STEP_NAMES)
    assert result.status is Status.PASS, result.steps
    assert "form 1 (message_fields" in by_name["token_info"][1]
    assert result.details["token_form"] == "message_fields"
    # The probe sent turn 1's call back spaced as no template writes it: kept, so spliced.
    assert "spaced as no chat template renders it: the server splices" in by_name["multi_turn"][1]
    assert result.details["multi_turn"] == {
        "splices": True,
        "token_index": None,
        "samples": 1,
        "generation": "known",
    }
    assert (
        "the 16 generated ids decode" in by_name["decode"][1]
        or "generated ids decode" in (by_name["decode"][1])
    )
    burst = result.details["burst"]
    assert burst["requests"] == 64 and burst["concurrency"] == 16 and burst["failed"] == 0
    assert 0 < burst["p50_s"] <= burst["p99_s"]
    assert re.search(r"p50 [\d.]+ s, p99 [\d.]+ s; [\d.]+ generated tokens/s", by_name["burst"][1])


@pytest.mark.slow
def test_decode_uses_the_local_model_dir_else_the_given_tokenizer_else_skips(
    reference_url: str, model_dir: Path
) -> None:
    local = check_http_endpoint(reference_url + "/v1", **LIGHT)
    assert steps(local)["decode"][0] is Status.PASS
    assert local.details["tokenizer"] == f"the served model's tokenizer at {model_dir}"

    with FaultProxy(reference_url, remote_model=True) as proxy:
        given = check_http_endpoint(proxy.url + "/v1", tokenizer=str(model_dir), **LIGHT)
        assert steps(given)["decode"][0] is Status.PASS
        assert given.details["tokenizer"] == f"the tokenizer {model_dir}"

        none = check_http_endpoint(proxy.url + "/v1", **LIGHT)
    status, message = steps(none)["decode"]
    assert status is Status.SKIP
    assert "no tokenizer: the served model's directory is not on this machine" in message
    assert none.status is Status.PASS


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "step", "pattern"),
    [
        (
            ProxyFault.DROP_TOKEN_IDS,
            "token_info",
            r"no token ids in any of the three forms Gym reads",
        ),
        (ProxyFault.SHORT_LOGPROBS, "counts", r"chat: (\d+) generated ids but (\d+) logprobs"),
        (
            ProxyFault.TOKENIZE_MISMATCH,
            "tokenize",
            r"/tokenize gives (\d+) prompt ids, the completion (\d+); they differ from token (\d+)",
        ),
        (
            ProxyFault.ERROR_500_ON_BAD_INPUT,
            "bad_request",
            r"got \[http_status\] POST /v1/chat/completions answered HTTP 500",
        ),
        (
            ProxyFault.INVALID_JSON,
            "chat",
            r"POST /v1/chat/completions failed: \[invalid_json\] .*answered 200 with invalid JSON",
        ),
    ],
)
def test_each_proxy_fault_fails_exactly_its_sub_check(
    reference_url: str, tokenizer, fault: ProxyFault, step: str, pattern: str
) -> None:
    with FaultProxy(reference_url, fault=fault) as proxy:
        result = check_http_endpoint(proxy.url + "/v1", tokenizer=tokenizer, **LIGHT)
    assert failing(result) == [step], result.steps
    assert result.status is Status.FAIL
    assert result.summary == f"1 of {len(STEP_NAMES)} sub-checks failed: {step}"
    match = re.search(pattern, steps(result)[step][1])
    assert match, steps(result)[step][1]
    if fault is ProxyFault.SHORT_LOGPROBS:
        assert int(match[2]) == int(match[1]) - 1
    if fault is ProxyFault.TOKENIZE_MISMATCH:
        prompt_len = int(match[2])
        assert int(match[1]) == prompt_len and int(match[3]) == prompt_len // 2
    finding = next(f for f in result.findings if f.code == f"endpoint_{step}")
    assert finding.severity == "error" and finding.fix


def test_a_hang_is_bounded_by_the_timeout(reference_url: str) -> None:
    # The proxy holds the chat 2.5 s, well past the 1 s timeout (and stops serving it then).
    with FaultProxy(reference_url, fault=ProxyFault.HANG, hang_s=2.5) as proxy:
        start = time.monotonic()
        result = check_http_endpoint(proxy.url + "/v1", timeout=1.0, **LIGHT)
        elapsed = time.monotonic() - start
    assert elapsed < 11, f"the check took {elapsed:.1f} s against a hanging server"
    assert failing(result) == ["chat"]
    assert "[timeout] POST /v1/chat/completions timed out" in steps(result)["chat"][1]
    skipped = {n: m for n, (s, m) in steps(result).items() if s is Status.SKIP}
    assert set(skipped) == set(STEP_NAMES) - {"models", "chat"}
    assert all("did not answer within the 1 s timeout" in m for m in skipped.values())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "step", "text"),
    [
        (Fault.DROP_TOKEN_IDS, "token_info", "no token ids in any of the three forms"),
        (Fault.BAD_LOGPROBS, "counts", "logprobs"),
        (Fault.TOP_LOGPROBS_NULL, "top_logprobs_null", "answered 200 without token ids"),
    ],
)
def test_reference_server_faults(model_dir: Path, fault: Fault, step: str, text: str) -> None:
    from gymcheck.reference.server import create_app

    with BackgroundServer(create_app(model_dir, fault=fault)) as server:
        result = check_http_endpoint(server.url + "/v1", **LIGHT)
    assert failing(result) == [step], result.steps
    assert text in steps(result)[step][1]


def test_unreachable_server_fails_with_cause_and_cli_exits_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    result = check_http_endpoint(url, timeout=3)
    assert failing(result) == ["models"]
    assert "[unreachable] GET /v1/models: cannot reach" in steps(result)["models"][1]
    assert all(s.status is Status.SKIP for s in result.steps[1:])

    out = tmp_path / "report.json"
    cli = invoke("--base-url", url, "--timeout", "3", "--json", str(out))
    assert cli.exit_code == 1, cli.output
    assert "Traceback" not in cli.output
    assert "[unreachable]" in cli.output
    report = json.loads(out.read_text())
    assert report["passed"] is False
    assert report["checks"][0]["id"] == "http_endpoint"
    assert report["checks"][0]["steps"][0]["status"] == "fail"


@pytest.mark.slow
def test_api_key_is_sent_and_never_shown(reference_url: str, tmp_path: Path, monkeypatch) -> None:
    with FaultProxy(reference_url, required_api_key=SECRET) as proxy:
        denied = check_http_endpoint(proxy.url + "/v1", **LIGHT)
        assert failing(denied) == ["models"]
        assert "HTTP 401" in steps(denied)["models"][1]

        monkeypatch.setenv("GYMCHECK_TEST_KEY", SECRET)
        out = tmp_path / "report.json"
        cli = invoke(
            "--base-url", proxy.url, "--api-key-env", "GYMCHECK_TEST_KEY", "--json", str(out)
        )
        assert f"Bearer {SECRET}" in proxy.seen_authorization
    assert cli.exit_code == 0, cli.output
    assert SECRET not in cli.output
    assert SECRET not in out.read_text()
    assert json.loads(out.read_text())["checks"][0]["status"] == "pass"


def test_a_key_echoed_by_the_server_is_redacted(tmp_path: Path, monkeypatch) -> None:
    async def echo(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        return JSONResponse({"error": {"message": f"key rejected: {auth}"}}, status_code=403)

    echo_app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])
    with BackgroundServer(echo_app) as server:
        result = check_http_endpoint(server.url, api_key=SECRET, **LIGHT)
        monkeypatch.setenv("GYMCHECK_TEST_KEY", SECRET)
        out = tmp_path / "report.json"
        cli = invoke(
            "--base-url", server.url, "--api-key-env", "GYMCHECK_TEST_KEY", "--json", str(out)
        )
    rendered = jsonout.render(Report([result]))
    assert "HTTP 403: key rejected: Bearer [REDACTED]" in rendered
    assert SECRET not in rendered
    assert cli.exit_code == 1
    assert SECRET not in cli.output and SECRET not in out.read_text()


def test_missing_api_key_variable_is_a_usage_error(monkeypatch) -> None:
    monkeypatch.delenv("GYMCHECK_NO_SUCH_KEY", raising=False)
    cli = invoke("--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "GYMCHECK_NO_SUCH_KEY")
    assert cli.exit_code == 2
    assert "GYMCHECK_NO_SUCH_KEY" in cli.output


@pytest.mark.slow
def test_cli_against_the_reference_server(reference_url: str, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    url = reference_url + "/v1"
    cli = invoke("--base-url", url, "--model", "gymcheck-tiny", "--json", str(out))
    assert cli.exit_code == 0, cli.output
    assert "📡 Testing HTTP endpoint..." in cli.output
    assert "Token information: served in form 1" in cli.output
    assert "All validations passed!" in cli.output
    report = json.loads(out.read_text())
    assert [s["name"] for s in report["checks"][0]["steps"]] == list(STEP_NAMES)
