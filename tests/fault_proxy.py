"""A real HTTP proxy on loopback that plants one endpoint fault in front of a real server.

Each fault is a bug a real deployment has: a gateway that strips unknown fields, a
post-processor that trims a token, a ``/tokenize`` route on another template, a server that
answers 500 to bad input, one that hangs, one that truncates its JSON. The ``http_endpoint``
check must name the one sub-check each fault breaks.

    with FaultProxy(upstream_url, fault="drop-token-ids") as proxy:
        check_http_endpoint(proxy.url + "/v1")
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from enum import StrEnum
from types import TracebackType
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gymcheck.reference.serving import BackgroundServer

CHAT = "/v1/chat/completions"
TOKENIZE = "/tokenize"
TRUNCATED_JSON = b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, '


class ProxyFault(StrEnum):
    DROP_TOKEN_IDS = "drop-token-ids"
    """Completions lose every token field: ids in all three forms and the logprobs."""
    SHORT_LOGPROBS = "short-logprobs"
    """Completions carry one logprob fewer than generated ids."""
    TOKENIZE_MISMATCH = "tokenize-mismatch"
    """``/tokenize`` answers ids that differ from the completion's prompt (one id changed)."""
    ERROR_500_ON_BAD_INPUT = "500-on-bad-input"
    """Chat requests whose ``messages`` is not a list of objects crash with a 500, as a server
    that indexes ``body["messages"]`` without validating it."""
    HANG = "hang"
    """Chat completions hang for ``hang_s`` seconds before being forwarded."""
    INVALID_JSON = "invalid-json"
    """Successful chat completions come back as truncated JSON."""


def tokenize_mismatch_index(tokens: list[int]) -> int:
    """Where ``tokenize-mismatch`` changes an id: the middle of the prompt."""
    return len(tokens) // 2


def drop_token_fields(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body.pop("prompt_token_ids", None)
    for choice in body.get("choices") or []:
        choice.pop("token_ids", None)
        choice["logprobs"] = None
        message = choice.get("message") or {}
        for key in ("prompt_token_ids", "generation_token_ids", "generation_log_probs"):
            message.pop(key, None)
    return body


def shorten_logprobs(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for choice in body.get("choices") or []:
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, Mapping) and isinstance(logprobs.get("content"), list):
            logprobs["content"] = logprobs["content"][:-1]
        message = choice.get("message") or {}
        if isinstance(message.get("generation_log_probs"), list):
            message["generation_log_probs"] = message["generation_log_probs"][:-1]
    return body


def change_tokenize_ids(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    tokens = body.get("tokens")
    if isinstance(tokens, list) and tokens:
        index = tokenize_mismatch_index(tokens)
        # A neighbouring id: always different, always inside the vocabulary.
        tokens[index] = tokens[index] - 1 if tokens[index] > 0 else 1
    return body


class FaultProxy:
    """Forward every request to ``upstream``, planting ``fault`` (changeable between calls).

    ``required_api_key``: answer 401 unless the request carries ``Bearer <key>``.
    ``remote_model``: drop ``root`` from ``/v1/models``, as a server on another machine whose
    model directory is not readable here.
    ``seen_authorization`` records the Authorization headers that arrived.
    """

    def __init__(
        self,
        upstream: str,
        *,
        fault: ProxyFault | str | None = None,
        hang_s: float = 15.0,
        required_api_key: str | None = None,
        remote_model: bool = False,
        upstream_timeout: float = 120.0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault = ProxyFault(fault) if fault is not None else None
        self.hang_s = hang_s
        self.required_api_key = required_api_key
        self.remote_model = remote_model
        self.upstream_timeout = upstream_timeout
        self.seen_authorization: list[str] = []
        app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])],
        )
        self._server = BackgroundServer(app)

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> FaultProxy:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        authorization = request.headers.get("authorization", "")
        self.seen_authorization.append(authorization)
        if self.required_api_key and authorization != f"Bearer {self.required_api_key}":
            return _json({"error": {"message": "invalid API key", "code": 401}}, 401)
        if self.fault is ProxyFault.HANG and path == CHAT:
            await asyncio.sleep(self.hang_s)
        content = await request.body()
        crashes = self.fault is ProxyFault.ERROR_500_ON_BAD_INPUT and path == CHAT
        if crashes and not _messages_are_valid(content):
            return _json({"error": {"message": "Internal Server Error", "code": 500}}, 500)
        headers = {"content-type": request.headers.get("content-type", "application/json")}
        async with httpx.AsyncClient(timeout=self.upstream_timeout) as client:
            upstream = await client.request(
                request.method, self.upstream + path, content=content, headers=headers
            )
        return self._plant(path, upstream)

    def _plant(self, path: str, upstream: httpx.Response) -> Response:
        fault = self.fault
        if not upstream.is_success:
            return Response(upstream.content, upstream.status_code, media_type="application/json")
        if path == "/v1/models" and self.remote_model:
            body = orjson.loads(upstream.content)
            for entry in body.get("data") or []:
                entry.pop("root", None)
            return _json(body, upstream.status_code)
        if path == CHAT and fault is ProxyFault.INVALID_JSON:
            return Response(TRUNCATED_JSON, 200, media_type="application/json")
        edit = {
            (CHAT, ProxyFault.DROP_TOKEN_IDS): drop_token_fields,
            (CHAT, ProxyFault.SHORT_LOGPROBS): shorten_logprobs,
            (TOKENIZE, ProxyFault.TOKENIZE_MISMATCH): change_tokenize_ids,
        }.get((path, fault))  # type: ignore[arg-type]
        if edit is None:
            return Response(upstream.content, upstream.status_code, media_type="application/json")
        return _json(edit(orjson.loads(upstream.content)), upstream.status_code)


def _messages_are_valid(content: bytes) -> bool:
    try:
        messages = orjson.loads(content).get("messages")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return isinstance(messages, list) and all(isinstance(m, dict) for m in messages)


def _json(body: Any, status: int) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")
