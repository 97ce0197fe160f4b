"""End to end over the embedded stack: the reference model server, the Gym environment and the
head server on loopback, collected through the same HTTP path real NeMo Gym uses."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from gymcheck.checks.collection import check_rollout_collection
from gymcheck.checks.continuity import check_token_continuity
from gymcheck.collect import Collection, collect_rollouts
from gymcheck.loading import load_tokenizer
from gymcheck.reference.faults import Fault
from gymcheck.reference.stack import ReferenceStack, start_stack
from gymcheck.report import Status

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[ReferenceStack]:
    with start_stack() as running:
        yield running


@pytest.fixture(scope="module")
def collection(stack: ReferenceStack) -> Collection:
    return collect_rollouts(stack.gym_url, stack.tasks)


@pytest.fixture(scope="module")
def tokenizer(stack: ReferenceStack):
    return load_tokenizer(stack.model_dir)


def _model_calls(record: dict) -> int:
    return sum("generation_token_ids" in item for item in record["response"]["output"])


def test_head_server_lists_every_server(stack: ReferenceStack):
    assert httpx.get(stack.gym_url + "/readyz", timeout=10).json() == {"status": "ok"}
    listing = httpx.get(stack.gym_url + "/server_instances", timeout=10).json()
    types = {(i["process_name"], i["server_type"]) for i in listing}
    assert ("single_tool_agent", "responses_api_agents") in types
    assert ("multi_step_agent", "responses_api_agents") in types
    assert ("multi_step_resources_server", "resources_servers") in types
    assert ("policy_model", "responses_api_models") in types
    assert {i["url"] for i in listing if i["server_type"] == "responses_api_models"} == {
        stack.base_url
    }
    assert stack.model == "gymcheck-tiny" and stack.agent_name in {n for n, _ in types}


def test_collects_every_task_through_the_head_server(stack, collection):
    assert collection.findings == []
    assert len(collection.records) == len(stack.tasks)
    assert [r["env"] for r in collection.records] == [t["env"] for t in stack.tasks]
    print(f"\ncollected {len(collection.records)} rollouts in {collection.elapsed_s:.2f}s")


def test_records_keep_the_row_and_have_nemo_gym_shape(stack, collection):
    for row, record in zip(stack.tasks, collection.records, strict=True):
        for key, value in row.items():
            assert record[key] == value
        response = record["response"]
        assert response["object"] == "response" and response["model"] == stack.model
        types = {item["type"] for item in response["output"]}
        assert {"function_call", "function_call_output"} <= types
        assert isinstance(record["reward"], float)


def test_multi_step_rollouts_have_several_model_calls(collection):
    multi = [r for r in collection.records if r["env"] == "multi_step"]
    assert multi and all(_model_calls(r) >= 2 for r in multi)
    single = [r for r in collection.records if r["env"] == "single_tool"]
    assert single and all(_model_calls(r) == 1 for r in single)


def test_records_pass_the_rollout_checks(collection, tokenizer):
    collected = check_rollout_collection(collection.records, vocab_size=len(tokenizer))
    assert collected.status is Status.PASS, collected.findings
    continuity = check_token_continuity(collection.records, tokenizer=tokenizer)
    assert continuity.status is Status.PASS, [f.to_dict() for f in continuity.findings]


def test_collection_is_fast(stack):
    started = time.perf_counter()
    collect_rollouts(stack.gym_url, stack.tasks)
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (Fault.RETOKENIZE, "retokenized"),
        (Fault.STRIP_REASONING, "reasoning_stripped"),
        (Fault.TRUNCATE_HISTORY, "history_truncated"),
    ],
)
def test_agent_faults_break_only_continuity_with_their_cause(fault: Fault, cause: str):
    with start_stack(fault=fault, envs=["multi_step"]) as faulty:
        collection = collect_rollouts(faulty.gym_url, faulty.tasks)
        tokenizer = load_tokenizer(faulty.model_dir)
    assert collection.findings == []
    # Records are still well formed...
    collected = check_rollout_collection(collection.records, vocab_size=len(tokenizer))
    assert collected.status is Status.PASS, collected.findings
    # ...and continuity breaks, each break named for the fault.
    continuity = check_token_continuity(collection.records, tokenizer=tokenizer)
    assert continuity.status is Status.FAIL
    breaks = [f for f in continuity.findings if f.code == "continuity_break"]
    causes = Counter(f.cause for f in breaks)
    assert causes.most_common(1)[0][0] == cause, [f.to_dict() for f in breaks]
    # Sent back as text, a tool call is what the server's parser made of it: arguments the
    # model wrote in a form JSON does not keep (a float past double precision) re-render
    # differently, which is `rerendered`, as on stock vLLM. Nothing else may appear.
    tolerated = {"rerendered"} if fault is Fault.RETOKENIZE else set()
    assert set(causes) <= {cause, *tolerated}, [f.to_dict() for f in breaks]
    assert all(f.turn is not None and f.turn >= 2 and f.token_index is not None for f in breaks)


def test_reward_out_of_range_is_caught_by_rollout_collection():
    with start_stack(fault=Fault.REWARD_OUT_OF_RANGE, envs=["single_tool"]) as faulty:
        collection = collect_rollouts(faulty.gym_url, faulty.tasks)
    result = check_rollout_collection(collection.records)
    assert result.status is Status.FAIL
    assert {f.code for f in result.findings} == {"reward_invalid"}
    assert all(r["reward"] >= 1.5 for r in collection.records)


def test_stack_stops_every_server():
    before = {t.name for t in threading.enumerate() if t.name.startswith("uvicorn:")}
    with start_stack(envs=["single_tool"]) as running:
        urls = [running.base_url, running.gym_url, *running.agent_urls.values()]
    for url in urls:
        host, port = url.removeprefix("http://").split(":")
        with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=1):
            pass
    after = {t.name for t in threading.enumerate() if t.name.startswith("uvicorn:")}
    assert after <= before


def test_external_endpoint_drives_the_embedded_gym(stack):
    # base_url given: no model server of its own; the agents call that endpoint.
    with start_stack(base_url=stack.base_url + "/v1", envs=["single_tool"]) as external:
        assert external.model_dir is None and external.model == "gymcheck-tiny"
        collection = collect_rollouts(external.gym_url, external.tasks)
    assert collection.findings == [] and len(collection.records) == 2
    assert all(r["responses_create_params"]["max_output_tokens"] >= 300 for r in collection.records)
