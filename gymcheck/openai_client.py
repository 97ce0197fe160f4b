"""A small synchronous client for OpenAI-compatible servers, with a total deadline and a size
cap on every exchange (``gymcheck.deadline``).

Every failure becomes an ``EndpointError`` whose ``cause`` names what went wrong
(``unreachable``, ``timeout``, ``too_large``, ``http_status``, ``invalid_json``), so checks can
turn it into a finding instead of a traceback. The API key is sent as a bearer token and is
registered with ``gymcheck.redact``, so no output shows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import orjson

from gymcheck import redact
from gymcheck.deadline import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DeadlineExceeded,
    ResponseTooLarge,
    exchange,
    new_client,
)
from gymcheck.errors import EndpointError, UsageError
from gymcheck.lifecycle import Closing

ErrorCause = Literal["unreachable", "timeout", "too_large", "http_status", "invalid_json"]

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


def check_base_url(url: str, *, flag: str = "--base-url") -> str:
    """``url`` when it is an absolute http(s) URL with a host; ``UsageError`` otherwise."""
    shown = redact.redact(url)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UsageError(f"{flag} {shown!r} is not a URL ({exc})") from None
    if "://" in url and parsed.scheme not in ("http", "https"):
        raise UsageError(
            f"{flag} {shown!r}: unsupported scheme {parsed.scheme!r} (use http:// or https://)"
        )
    if parsed.scheme not in ("http", "https") or not parsed.host or any(c.isspace() for c in url):
        raise UsageError(f"{flag} {shown!r} is not a URL (expected e.g. http://localhost:8000/v1)")
    return url


def server_root(base_url: str) -> str:
    """``http://host:8000`` for ``http://host:8000``, ``.../v1`` or ``.../v1/``."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


class OpenAIClient(Closing):
    """``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /tokenize``, as JSON dicts.

    ``timeout`` bounds each whole exchange (connect, headers, body), ``max_response_bytes``
    its body.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise UsageError(f"timeout must be a finite number of seconds > 0, not {timeout!r}")
        self.root = server_root(base_url)
        redact.add_secret(api_key)
        redact.add_url(base_url)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._http = new_client(headers={"Authorization": f"Bearer {api_key}"} if api_key else None)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, json: Mapping[str, Any] | None = None) -> Any:
        """The decoded JSON body of a 2xx answer; ``EndpointCallError`` for anything else."""
        url = self.root + path
        try:
            response = exchange(
                self._http,
                method,
                url,
                deadline_s=self.timeout,
                max_bytes=self.max_response_bytes,
                content=orjson.dumps(json) if json is not None else None,
                headers={"Content-Type": "application/json"} if json is not None else None,
            )
        except DeadlineExceeded as exc:
            raise EndpointCallError(
                f"{method} {path} timed out ({exc})",
                cause="timeout",
            ) from exc
        except ResponseTooLarge as exc:
            raise EndpointCallError(f"{method} {path}: {exc}", cause="too_large") from exc
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
                    f"{redact.clip(response.text, 120)!r}",
                    cause="invalid_json",
                    status_code=response.status_code,
                ) from exc
            body = redact.clip(response.text, 500)
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
            return redact.clip(str(error["message"]), 300)
        return redact.clip(str(error), 300)
    return redact.clip(str(body), 300)
