"""The agent: history conversion, output items, and the episode loop over the real reference
model server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from gymcheck.reference.faults import Fault
from gymcheck.reference.gym import tasks
from gymcheck.reference.gym.agent import Agent, AgentConfig, create_agent_app
from gymcheck.reference.gym.messages import chat_tools, completion_items, to_chat_messages
from gymcheck.reference.gym.multi_step import MultiStepResourcesServer
from gymcheck.reference.serving import BackgroundServer
from gymcheck.tokeninfo import GYM_TOKEN_REQUEST_PARAMS

TOKENS_1 = {
    "prompt_token_ids": [1, 2, 3],
    "generation_token_ids": [4, 5],
    "generation_log_probs": [-0.1, -0.2],
}
TOKENS_2 = {
    "prompt_token_ids": [1, 2, 3, 4, 5, 6, 7],
    "generation_token_ids": [8],
    "generation_log_probs": [-0.3],
}

HISTORY = [
    {"role": "system", "content": "sys"},
    {"role": "user", "content": "q"},
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think 1"}]},
    {
        "type": "function_call",
        "name": "get_weather",
        "arguments": '{"city": "Oslo"}',
        "call_id": "call_1",
        **TOKENS_1,
    },
    {"type": "function_call_output", "call_id": "call_1", "output": '{"condition": "sunny"}'},
    {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "think 2"}]},
    {
        "type": "function_call",
        "name": "add_numbers",
        "arguments": '{"a": 1, "b": 2}',
        "call_id": "call_2",
        **TOKENS_2,
    },
    {"type": "function_call_output", "call_id": "call_2", "output": '{"result": 3}'},
]


def test_history_becomes_chat_messages_with_token_fields_on_assistant_turns():
    messages = to_chat_messages(HISTORY)
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]
    first = messages[2]
    assert first["reasoning_content"] == "think 1"
    assert first["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        }
    ]
    assert {k: first[k] for k in TOKENS_1} == TOKENS_1
    assert {k: messages[4][k] for k in TOKENS_2} == TOKENS_2
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"condition": "sunny"}',
    }


def test_retokenize_fault_sends_text_only():
    messages = to_chat_messages(HISTORY, fault=Fault.RETOKENIZE)
    assistants = [m for m in messages if m["role"] == "assistant"]
    assert all("prompt_token_ids" not in m and "generation_token_ids" not in m for m in assistants)
    assert [m["reasoning_content"] for m in assistants] == ["think 1", "think 2"]


def test_strip_reasoning_fault_drops_reasoning_and_token_fields():
    assistants = [
        m
        for m in to_chat_messages(HISTORY, fault=Fault.STRIP_REASONING)
        if m["role"] == "assistant"
    ]
    assert all("reasoning_content" not in m and "prompt_token_ids" not in m for m in assistants)
    assert assistants[0]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_truncate_history_fault_drops_the_oldest_turn():
    messages = to_chat_messages(HISTORY, fault=Fault.TRUNCATE_HISTORY)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[2]["tool_calls"][0]["id"] == "call_2"
    assert messages[2]["generation_token_ids"] == [8]


def test_output_items_follow_nemo_gym_shapes():
    items = completion_items(
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "I should call it.",
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Lima"}'},
                }
            ],
        }
    )
    assert [i["type"] for i in items] == ["reasoning", "function_call"]
    assert items[0]["summary"] == [{"type": "summary_text", "text": "I should call it."}]
    assert items[1]["call_id"] == "call_9" and items[1]["arguments"] == '{"city": "Lima"}'


def test_think_tags_in_content_become_a_reasoning_item():
    # An endpoint without a reasoning parser (stock vLLM) leaves <think> in the content.
    items = completion_items({"content": "<think>\nhmm\n</think>\n\nThe answer is 4."})
    assert [i["type"] for i in items] == ["reasoning", "message"]
    assert items[0]["summary"][0]["text"] == "hmm"
    assert items[1]["content"][0] == {
        "type": "output_text",
        "text": "The answer is 4.",
        "annotations": [],
    }


def test_requests_carry_gym_token_params_and_chat_tools():
    agent = Agent(AgentConfig(name="a", resources_url="", model_base_url=""))
    params = tasks.multi_step_tasks(96)[0]["responses_create_params"]
    body = agent.chat_request(params, [{"role": "user", "content": "q"}], "m", 7)
    assert {k: body[k] for k in GYM_TOKEN_REQUEST_PARAMS} == GYM_TOKEN_REQUEST_PARAMS
    assert body["tools"] == chat_tools(params["tools"])
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert (body["tool_choice"], body["max_tokens"], body["seed"]) == ("required", 96, 7)


# --- the loop, over the real reference model server ----------------------------------------


@pytest.fixture(scope="module")
def model_server() -> Iterator[str]:
    from gymcheck.reference.model import ensure_reference_model
    from gymcheck.reference.server import create_app

    with BackgroundServer(create_app(ensure_reference_model())) as server:
        yield server.url


@pytest.fixture(scope="module")
def recording_proxy(model_server: str) -> Iterator[tuple[str, list[dict]]]:
    """A pass-through proxy in front of the real model server that records each request."""
    bodies: list[dict] = []
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.body()
        bodies.append(json.loads(body))
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.post(
                model_server + "/v1/chat/completions",
                content=body,
                headers={"Content-Type": "application/json"},
            )
        return Response(answer.content, answer.status_code, media_type="application/json")

    with BackgroundServer(app) as proxy:
        yield proxy.url, bodies


@pytest.fixture(scope="module")
def multi_step_resources() -> Iterator[str]:
    with BackgroundServer(MultiStepResourcesServer().create_app()) as server:
        yield server.url


def _agent(base_url: str, resources_url: str, fault: Fault | None = None) -> Agent:
    config = AgentConfig(
        name="multi_step_agent",
        resources_url=resources_url,
        model_base_url=base_url,
        model="gymcheck-tiny",
        max_steps=3,
        fault=fault,
        timeout=60,
    )
    return Agent(config)


def test_loop_sends_each_turns_token_fields_back(recording_proxy, multi_step_resources):
    proxy_url, bodies = recording_proxy
    bodies.clear()
    row = tasks.multi_step_tasks(96)[0]
    record = _agent(proxy_url, multi_step_resources).run(row)

    output = record["response"]["output"]
    carriers = [i for i in output if "generation_token_ids" in i]
    assert len(bodies) == len(carriers) >= 2  # required tool calls: several steps
    # Every model call asked for token information the way Gym does.
    for body in bodies:
        assert {k: body[k] for k in GYM_TOKEN_REQUEST_PARAMS} == GYM_TOKEN_REQUEST_PARAMS
        assert body["tool_choice"] == "required"
    # Call k+1 sends calls 1..k back as assistant messages carrying their token fields.
    for k, body in enumerate(bodies):
        assistants = [m for m in body["messages"] if m["role"] == "assistant"]
        assert len(assistants) == k
        for message, carrier in zip(assistants, carriers, strict=False):
            for key in ("prompt_token_ids", "generation_token_ids", "generation_log_probs"):
                assert message[key] == carrier[key]
        # Each tool result went in as a tool message right after the call that asked for it.
        assert sum(m["role"] == "tool" for m in body["messages"]) == k
    # Tool outputs never carry token fields; each call's last item does.
    for item in output:
        if item["type"] == "function_call_output":
            assert "generation_token_ids" not in item
            assert json.loads(item["output"])  # the resource server's JSON answer
    assert record["responses_create_params"] == row["responses_create_params"]
    assert 0.0 <= record["reward"] <= 1.0


def test_each_model_call_ends_in_its_token_carrier(model_server, multi_step_resources):
    record = _agent(model_server, multi_step_resources).run(tasks.multi_step_tasks(96)[1])
    output = record["response"]["output"]
    # Split the output into model calls: each ends at its token carrier, followed by tool
    # outputs. Nothing after a carrier but tool outputs, until the next call's items.
    calls, current = [], []
    for item in output:
        if item["type"] == "function_call_output":
            assert current == [], "a tool output inside a model call"
            continue
        current.append(item)
        if "generation_token_ids" in item:
            calls.append(current)
            current = []
    assert current == [] and len(calls) >= 2
    for items in calls:
        assert all("generation_token_ids" not in i for i in items[:-1])
        assert items[-1]["generation_token_ids"]
        assert len(items[-1]["generation_log_probs"]) == len(items[-1]["generation_token_ids"])


@pytest.fixture(scope="module")
def form3_proxy(model_server: str) -> Iterator[str]:
    """A fault proxy in front of the real server that strips token forms 1 and 2, leaving only
    ``token_id:<id>`` logprob strings (vLLM with ``--return-tokens-as-token-ids`` alone)."""
    app = FastAPI()

    async def forward(path: str, body: bytes) -> httpx.Response:
        async with httpx.AsyncClient(timeout=60) as client:
            return await client.post(
                model_server + path, content=body, headers={"Content-Type": "application/json"}
            )

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        completion = (await forward("/v1/chat/completions", await request.body())).json()
        completion.pop("prompt_token_ids", None)
        choice = completion["choices"][0]
        choice.pop("token_ids", None)
        for key in ("prompt_token_ids", "generation_token_ids", "generation_log_probs"):
            choice["message"].pop(key, None)
        return completion

    @app.post("/tokenize")
    async def tokenize(request: Request) -> Response:
        answer = await forward("/tokenize", await request.body())
        return Response(answer.content, answer.status_code, media_type="application/json")

    with BackgroundServer(app) as proxy:
        yield proxy.url


def test_form3_prompt_ids_come_from_tokenize(form3_proxy, model_server, multi_step_resources):
    from gymcheck.checks.continuity import check_token_continuity
    from gymcheck.tokeninfo import extract_token_info

    row = tasks.multi_step_tasks(96)[2]
    agent = _agent(form3_proxy, multi_step_resources)
    record = agent.run(row)
    carriers = [i for i in record["response"]["output"] if "generation_token_ids" in i]
    assert len(carriers) >= 2

    # The first call's prompt ids are what the real server reports for the same request.
    params = row["responses_create_params"]
    messages = to_chat_messages(
        [{"role": m["role"], "content": m["content"]} for m in params["input"]]
    )
    body = agent.chat_request(params, messages, "gymcheck-tiny", row["seed"] * 1000 + 1)
    direct = httpx.post(model_server + "/v1/chat/completions", json=body, timeout=60).json()
    info = extract_token_info(direct)
    assert info is not None and info.form == "message_fields"
    assert carriers[0]["prompt_token_ids"] == info.prompt_token_ids
    assert carriers[0]["generation_token_ids"] == info.generation_token_ids  # same seed
    assert check_token_continuity([record]).status.value == "pass"


@pytest.mark.slow
def test_agent_app_serves_run_and_responses(model_server, multi_step_resources):
    config = AgentConfig(
        name="multi_step_agent",
        resources_url=multi_step_resources,
        model_base_url=model_server,
        max_steps=2,
        timeout=60,
    )  # no model name: the agent asks /v1/models
    row = tasks.multi_step_tasks(96)[0]
    with BackgroundServer(create_agent_app(config)) as agent:
        response = httpx.post(
            agent.url + "/v1/responses", json=row["responses_create_params"], timeout=120
        ).json()
        record = httpx.post(agent.url + "/run", json=row, timeout=120).json()
        bad = httpx.post(agent.url + "/run", json={"input": []}, timeout=10)
    assert response["object"] == "response" and response["model"] == "gymcheck-tiny"
    # /v1/responses takes no seed, so whether the sampled call closes within max_output_tokens
    # varies; every call it made must be answered by the resource server.
    calls = {i["call_id"] for i in response["output"] if i["type"] == "function_call"}
    answered = {i["call_id"] for i in response["output"] if i["type"] == "function_call_output"}
    assert calls == answered
    assert any("generation_token_ids" in i for i in response["output"])
    # max_steps bounds the episode: a tool call leads to a second model call, and no third.
    carriers = [i for i in record["response"]["output"] if "generation_token_ids" in i]
    assert len(carriers) == (2 if carriers[0]["type"] == "function_call" else 1)
    assert "reward" in record
    assert bad.status_code == 422
    assert bad.json()["error"]["message"] == "the row has no 'responses_create_params' object"
