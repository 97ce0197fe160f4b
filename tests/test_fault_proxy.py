"""The fault proxy itself: it forwards faithfully and plants exactly the fault it names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from fault_proxy import FaultProxy, ProxyFault, tokenize_mismatch_index

from gymcheck.reference.serving import BackgroundServer
from gymcheck.tokeninfo import GYM_TOKEN_REQUEST_PARAMS, extract_token_info

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    from gymcheck.reference.model import ensure_reference_model
    from gymcheck.reference.server import create_app

    model_dir: Path = ensure_reference_model()
    with BackgroundServer(create_app(model_dir)) as server:
        yield server.url


def chat(url: str, timeout: float = 60, **extra) -> httpx.Response:
    body = {"model": "gymcheck-tiny", "messages": MESSAGES, "max_tokens": 6}
    return httpx.post(
        url + "/v1/chat/completions",
        json={**body, **GYM_TOKEN_REQUEST_PARAMS, **extra},
        timeout=timeout,
    )


def test_without_a_fault_it_forwards_unchanged(upstream: str) -> None:
    with FaultProxy(upstream) as proxy:
        assert (
            httpx.get(proxy.url + "/v1/models", timeout=10).json()
            == httpx.get(upstream + "/v1/models", timeout=10).json()
        )
        seeded = {"seed": 7, "temperature": 0.0}
        assert (
            chat(proxy.url, **seeded).json()["choices"]
            == chat(upstream, **seeded).json()["choices"]
        )


def test_drop_token_ids_leaves_no_form(upstream: str) -> None:
    with FaultProxy(upstream, fault=ProxyFault.DROP_TOKEN_IDS) as proxy:
        body = chat(proxy.url).json()
    assert extract_token_info(body) is None
    assert body["choices"][0]["message"]["role"] == "assistant"


def test_short_logprobs_removes_exactly_one(upstream: str) -> None:
    with FaultProxy(upstream, fault=ProxyFault.SHORT_LOGPROBS) as proxy:
        body = chat(proxy.url).json()
    message = body["choices"][0]["message"]
    assert len(message["generation_log_probs"]) == len(message["generation_token_ids"]) - 1
    assert (
        len(body["choices"][0]["logprobs"]["content"]) == len(body["choices"][0]["token_ids"]) - 1
    )


def test_tokenize_mismatch_changes_one_id_in_the_middle(upstream: str) -> None:
    request = {"model": "gymcheck-tiny", "messages": MESSAGES}
    true = httpx.post(upstream + "/tokenize", json=request, timeout=30).json()["tokens"]
    with FaultProxy(upstream, fault=ProxyFault.TOKENIZE_MISMATCH) as proxy:
        changed = httpx.post(proxy.url + "/tokenize", json=request, timeout=30).json()["tokens"]
    differing = [i for i, (a, b) in enumerate(zip(true, changed, strict=True)) if a != b]
    assert differing == [tokenize_mismatch_index(true)]


def test_500_on_bad_input_only(upstream: str) -> None:
    with FaultProxy(upstream, fault=ProxyFault.ERROR_500_ON_BAD_INPUT) as proxy:
        bad = httpx.post(
            proxy.url + "/v1/chat/completions",
            json={"model": "gymcheck-tiny", "messages": "not a list"},
            timeout=30,
        )
        good = chat(proxy.url)
    assert bad.status_code == 500
    assert good.status_code == 200


def test_invalid_json_and_hang(upstream: str) -> None:
    with FaultProxy(upstream, fault=ProxyFault.INVALID_JSON) as proxy:
        response = chat(proxy.url)
    assert response.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)
    with (
        FaultProxy(upstream, fault=ProxyFault.HANG, hang_s=1) as proxy,
        pytest.raises(httpx.ReadTimeout),
    ):
        chat(proxy.url, timeout=0.3)


def test_required_api_key(upstream: str) -> None:
    with FaultProxy(upstream, required_api_key="k") as proxy:
        assert httpx.get(proxy.url + "/v1/models", timeout=10).status_code == 401
        ok = httpx.get(proxy.url + "/v1/models", headers={"Authorization": "Bearer k"}, timeout=10)
        assert ok.status_code == 200
        assert proxy.seen_authorization == ["", "Bearer k"]
