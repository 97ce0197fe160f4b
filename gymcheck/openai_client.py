"""A small synchronous client for OpenAI-compatible servers, with timeouts on every call.

Every failure becomes an ``EndpointError`` whose ``cause`` names what went wrong
(``unreachable``, ``timeout``, ``http_status``, ``invalid_json``), so checks can turn it into a
finding instead of a traceback. The API key is sent as a bearer token and never echoed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal

import httpx
import orjson

from gymcheck.errors import EndpointError

ErrorCause = Literal["unreachable", "timeout", "http_status", "invalid_json"]

DEFAULT_TIMEOUT_S = 60.0


class EndpointCallError(EndpointError):
    def __init__(
        self,
        message: str,
        *,
        cause: ErrorCause,
        status_code: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.status_code = status_code
        self.body = body


def server_root(base_url: str) -> str:
    """``http://host:8000`` for ``http://host:8000``, ``.../v1`` or ``.../v1/``."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


class OpenAIClient:
    """``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /tokenize``, as JSON dicts."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.root = server_root(base_url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAIClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def request(self, method: str, path: str, json: Mapping[str, Any] | None = None) -> Any:
        """The decoded JSON body of a 2xx answer; ``EndpointCallError`` for anything else."""
        url = self.root + path
        try:
            response = self._http.request(
                method,
                url,
                content=orjson.dumps(json) if json is not None else None,
                headers={"Content-Type": "application/json"} if json is not None else None,
            )
        except httpx.TimeoutException as exc:
            raise EndpointCallError(
                f"{method} {path} timed out ({type(exc).__name__})", cause="timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise EndpointCallError(
                f"{method} {path}: cannot reach {self.root} ({type(exc).__name__}: {exc})",
                cause="unreachable",
            ) from exc
        try:
            body = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError as exc:
            if response.is_success:
                raise EndpointCallError(
                    f"{method} {path} answered {response.status_code} with invalid JSON: "
                    f"{response.text[:120]!r}",
                    cause="invalid_json",
                    status_code=response.status_code,
                ) from exc
            body = response.text[:500]
        if not response.is_success:
            raise EndpointCallError(
                f"{method} {path} answered HTTP {response.status_code}: {_error_text(body)}",
                cause="http_status",
                status_code=response.status_code,
                body=body,
            )
        return body

    def models(self) -> Any:
        return self.request("GET", "/v1/models")

    def chat(self, body: Mapping[str, Any]) -> Any:
        return self.request("POST", "/v1/chat/completions", body)

    def tokenize(self, body: Mapping[str, Any]) -> Any:
        return self.request("POST", "/tokenize", body)


def _error_text(body: Any) -> str:
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and "message" in error:
            return str(error["message"])[:300]
        return str(error)[:300]
    return str(body)[:300]
