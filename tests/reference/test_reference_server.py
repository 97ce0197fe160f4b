"""The reference model server over real HTTP on loopback: token forms, /tokenize, splicing,
tool calls, 4xx errors, concurrency and the server-side faults."""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gymcheck.reference.episodes import REFERENCE_TOOLS
from gymcheck.reference.faults import Fault
from gymcheck.reference.model import ensure_reference_model
from gymcheck.reference.server import create_app
from gymcheck.reference.serving import BackgroundServer
from gymcheck.tokeninfo import GYM_TOKEN_REQUEST_PARAMS, extract_token_info

MODEL = "gymcheck-tiny"
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return ensure_reference_model()


def _serve(model_dir: Path, fault: Fault | None = None, **kwargs: Any) -> Iterator[httpx.Client]:
    with (
        BackgroundServer(create_app(model_dir, fault=fault, **kwargs)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def client(model_dir: Path) -> Iterator[httpx.Client]:
    yield from _serve(model_dir, max_model_len=1024)


def _chat(client: httpx.Client, **overrides: Any) -> httpx.Response:
    body = {
        "model": MODEL,
        "messages": QUESTION,
        "tools": REFERENCE_TOOLS,
        "temperature": 1.0,
        "seed": 7,
        "max_tokens": 60,
        **GYM_TOKEN_REQUEST_PARAMS,
        **overrides,
    }
    return client.post("/v1/chat/completions", json=body)


def test_models(client: httpx.Client) -> None:
    data = client.get("/v1/models").json()["data"]
    assert [m["id"] for m in data] == [MODEL]
    assert data[0]["max_model_len"] == 1024


def test_all_token_forms_agree_with_usage(client: httpx.Client) -> None:
    reply = _chat(client).json()
    choice, message = reply["choices"][0], reply["choices"][0]["message"]
    ids, logprobs = message["generation_token_ids"], message["generation_log_probs"]
    assert ids and len(logprobs) == len(ids) == reply["usage"]["completion_tokens"]
    assert len(message["prompt_token_ids"]) == reply["usage"]["prompt_tokens"]
    assert all(math.isfinite(lp) and lp <= 0 for lp in logprobs)
    # form 2
    assert reply["prompt_token_ids"] == message["prompt_token_ids"]
    assert choice["token_ids"] == ids
    # form 3 and logprobs.content
    content = choice["logprobs"]["content"]
    assert [e["token"] for e in content] == [f"token_id:{i}" for i in ids]
    assert [e["logprob"] for e in content] == logprobs
    assert all(e["top_logprobs"] == [] for e in content)
    info = extract_token_info(reply)
    assert info is not None and info.form == "message_fields"


def test_token_text_and_top_logprobs_without_id_strings(client: httpx.Client) -> None:
    reply = _chat(client, return_tokens_as_token_ids=False, return_token_ids=False, top_logprobs=3)
    choice = reply.json()["choices"][0]
    assert "token_ids" not in choice and "prompt_token_ids" not in reply.json()
    entry = choice["logprobs"]["content"][0]
    assert not entry["token"].startswith("token_id:")
    assert len(entry["top_logprobs"]) == 3
    assert entry["top_logprobs"][0]["logprob"] >= entry["logprob"] - 1e-6


def test_seeded_sampling_is_deterministic_and_greedy_is_stable(client: httpx.Client) -> None:
    first = _chat(client, seed=11).json()["choices"][0]["token_ids"]
    assert _chat(client, seed=11).json()["choices"][0]["token_ids"] == first
    greedy = [
        _chat(client, temperature=0, seed=s).json()["choices"][0]["token_ids"] for s in (1, 2)
    ]
    assert greedy[0] == greedy[1]


def test_tokenize_matches_the_completion_prompt(client: httpx.Client) -> None:
    reply = _chat(client).json()
    tokenized = client.post(
        "/tokenize", json={"model": MODEL, "messages": QUESTION, "tools": REFERENCE_TOOLS}
    ).json()
    assert tokenized["tokens"] == reply["prompt_token_ids"]
    assert tokenized["count"] == len(tokenized["tokens"])
    assert tokenized["max_model_len"] == 1024
    assert client.post("/tokenize", json={"prompt": "hello"}).json()["count"] >= 1


def _second_turn(first: dict[str, Any], generation: list[int], *, with_ids: bool) -> list[dict]:
    assistant: dict[str, Any] = {
        "role": "assistant",
        "reasoning_content": "Check.",
        "content": "It is sunny.",
    }
    if with_ids:
        assistant |= {
            "prompt_token_ids": first["prompt_token_ids"],
            "generation_token_ids": generation,
            "generation_log_probs": [-1.0] * len(generation),
        }
    return [*QUESTION, assistant, {"role": "user", "content": "And in Oslo?"}]


def test_splicing_keeps_earlier_ids_even_when_non_canonical(client: httpx.Client) -> None:
    first = _chat(client).json()
    engine_text = "<think>\nCheck. Skinny heron.\n</think>\n\nIt is sunny."
    canonical = client.post("/tokenize", json={"prompt": engine_text}).json()["tokens"]
    # The same text, one character per token where the vocabulary allows: not canonical.
    split = []
    for part in [
        "<think>",
        "\n",
        *"Check. Skinny heron.",
        "\n",
        "</think>",
        "\n\n",
        *"It is sunny.",
    ]:
        split += client.post("/tokenize", json={"prompt": part}).json()["tokens"]
    assert split != canonical
    eos = client.post("/tokenize", json={"prompt": "<|im_end|>"}).json()["tokens"]
    generation = split + eos
    expected_prefix = first["prompt_token_ids"] + generation

    spliced = _chat(client, messages=_second_turn(first, generation, with_ids=True)).json()
    prompt = spliced["prompt_token_ids"]
    assert prompt[: len(expected_prefix)] == expected_prefix
    assert len(prompt) > len(expected_prefix)
    # /tokenize splices the same way.
    tokenized = client.post(
        "/tokenize",
        json={"messages": _second_turn(first, generation, with_ids=True), "tools": REFERENCE_TOOLS},
    ).json()
    assert tokenized["tokens"] == prompt
    # Without the ids the server re-tokenizes, and the earlier split is lost.
    plain = _chat(client, messages=_second_turn(first, generation, with_ids=False)).json()
    assert plain["prompt_token_ids"][: len(expected_prefix)] != expected_prefix


def test_top_level_required_prefix_is_spliced_and_proven_by_prompt_ids(
    client: httpx.Client,
) -> None:
    # NeMo Gym's prefix supply (vllm_model_supply_prefix.yaml): a verified parent's exact tokens
    # as a top-level field, with no token fields on the messages; Gym accepts the call only if
    # the generation-time prompt_token_ids start with them.
    first = _chat(client).json()
    engine_text = "<think>\nCheck.\n</think>\n\nIt is sunny."
    split = [
        token
        for part in ["<think>", "\n", *"Check.", "\n", "</think>", "\n\n", *"It is sunny."]
        for token in client.post("/tokenize", json={"prompt": part}).json()["tokens"]
    ]
    assert split != client.post("/tokenize", json={"prompt": engine_text}).json()["tokens"]
    eos = client.post("/tokenize", json={"prompt": "<|im_end|>"}).json()["tokens"]
    required = first["prompt_token_ids"] + split + eos
    messages = _second_turn(first, split + eos, with_ids=False)
    reply = _chat(client, messages=messages, required_prefix_token_ids=required).json()
    assert reply["choices"][0]["message"]["prompt_token_ids"][: len(required)] == required
    tokenized = client.post(
        "/tokenize",
        json={
            "messages": messages,
            "tools": REFERENCE_TOOLS,
            "required_prefix_token_ids": required,
        },
    ).json()
    assert tokenized["tokens"] == reply["prompt_token_ids"]
    bad = _chat(client, messages=messages, required_prefix_token_ids=[-1])
    assert bad.status_code == 400 and "required_prefix_token_ids" in bad.text


def test_tool_choice_required_gives_a_valid_call(client: httpx.Client) -> None:
    names = {t["function"]["name"] for t in REFERENCE_TOOLS}
    for seed in (1, 2, 3):
        reply = _chat(client, tool_choice="required", seed=seed, max_tokens=300).json()
        choice = reply["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        calls = choice["message"]["tool_calls"]
        assert len(calls) == 1 and calls[0]["function"]["name"] in names
        assert calls[0]["function"]["arguments"].startswith("{")
    named = _chat(
        client,
        tool_choice={"type": "function", "function": {"name": "add_numbers"}},
        max_tokens=300,
    ).json()
    assert named["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "add_numbers"


def _assert_error(response: httpx.Response, status: int, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if param is not None:
        assert error["param"] == param


def test_bad_requests_get_openai_style_4xx(client: httpx.Client) -> None:
    _assert_error(_chat(client, model="no-such-model"), 404, "model")
    _assert_error(_chat(client, messages="hello"), 400, "messages")
    _assert_error(_chat(client, messages=[]), 400, "messages")
    _assert_error(_chat(client, messages=[{"content": "no role"}]), 400, "messages")
    _assert_error(_chat(client, messages=[{"role": "user", "content": 5}]), 400, "messages")
    _assert_error(_chat(client, top_logprobs=None), 400, "top_logprobs")
    _assert_error(_chat(client, n=2), 400, "n")
    _assert_error(_chat(client, temperature=-1), 400, "temperature")
    _assert_error(_chat(client, max_tokens=5000), 400, "max_tokens")
    long = [{"role": "user", "content": "weather " * 1200}]
    _assert_error(_chat(client, messages=long, max_tokens=None), 400, "messages")
    bad = client.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    _assert_error(bad, 400)
    _assert_error(client.post("/tokenize", json={"model": "other", "prompt": "x"}), 404, "model")


def test_concurrent_requests_match_sequential(client: httpx.Client) -> None:
    seeds = list(range(8))

    def run(seed: int) -> list[int]:
        return _chat(client, seed=seed, max_tokens=30).json()["choices"][0]["token_ids"]

    sequential = [run(seed) for seed in seeds]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(run, seeds))
    assert concurrent == sequential


def test_fault_drop_token_ids(model_dir: Path) -> None:
    for client in _serve(model_dir, Fault.DROP_TOKEN_IDS):
        reply = _chat(client).json()
        assert extract_token_info(reply) is None
        assert reply["usage"]["completion_tokens"] > 0


def test_fault_bad_logprobs(model_dir: Path) -> None:
    for client in _serve(model_dir, Fault.BAD_LOGPROBS):
        reply = _chat(client).json()
        choice = reply["choices"][0]
        ids = choice["message"]["generation_token_ids"]
        assert len(choice["message"]["generation_log_probs"]) == len(ids) - 1
        assert len(choice["token_ids"]) == len(ids)
        assert len(choice["logprobs"]["content"]) == len(ids) - 1


def test_fault_top_logprobs_null(model_dir: Path) -> None:
    for client in _serve(model_dir, Fault.TOP_LOGPROBS_NULL):
        silent = _chat(client, top_logprobs=None)
        assert silent.status_code == 200
        assert extract_token_info(silent.json()) is None
        # Only the null trap is broken: top_logprobs 0 still returns every form.
        assert extract_token_info(_chat(client).json()) is not None


def test_fault_processed_logprobs_reports_the_forced_temperature(model_dir: Path) -> None:
    from gymcheck.reference.faults import FORCED_TEMPERATURE
    from gymcheck.training import load_train_model, recompute_logprobs

    policy = load_train_model(str(model_dir))
    for client in _serve(model_dir, Fault.PROCESSED_LOGPROBS):
        message = _chat(client, temperature=1.0).json()["choices"][0]["message"]
    prompt, ids = message["prompt_token_ids"], message["generation_token_ids"]
    reported = message["generation_log_probs"]

    def trainer_logprobs(temperature: float) -> list[float]:
        values = recompute_logprobs(policy, prompt + ids, temperature=temperature)
        return [v for v in values[len(prompt) :] if v is not None]

    def worst(expected: list[float]) -> float:
        return max(abs(a - b) for a, b in zip(reported, expected, strict=True))

    # The request asked for 1.0; the reported log-probs are those of the forced temperature.
    assert worst(trainer_logprobs(FORCED_TEMPERATURE)) < 1e-3
    assert worst(trainer_logprobs(1.0)) > 0.1
