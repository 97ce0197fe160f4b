"""HTTP exchanges with a total deadline and a size cap, whatever the server does.

httpx's timeouts bound each read, so a server that trickles one byte a second holds a request
forever. Here a watchdog shuts the exchange's socket down when the deadline passes, which
wakes any blocked read (headers or body), and the body is read in chunks against a byte cap
(a declared ``Content-Length`` over the cap is refused before reading). Keep-alive is off so
that every exchange has its own connection, and the watchdog knows its socket.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gymcheck.errors import GymcheckError

DEFAULT_MAX_RESPONSE_BYTES = 32 << 20
"""A chat completion of 100k tokens with logprobs is a few MB; more means a broken server."""


class DeadlineExceeded(GymcheckError):
    """The exchange did not finish (connect, headers and body) within its deadline."""


class ResponseTooLarge(GymcheckError):
    """The body is over the cap; ``size`` is what was declared or read before stopping."""

    def __init__(self, size: int, limit: int, *, declared: bool) -> None:
        super().__init__(
            f"the response declares {size:,} bytes, over the {limit:,}-byte response cap"
            if declared
            else f"the response went past the {limit:,}-byte response cap; reading stopped there"
        )
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def new_client(*, headers: Mapping[str, str] | None = None) -> httpx.Client:
    """A client for ``exchange``: no keep-alive (one socket per exchange), no redirects."""
    return httpx.Client(
        headers=dict(headers or {}),
        limits=httpx.Limits(max_keepalive_connections=0),
        follow_redirects=False,
    )


class _Watchdog:
    """Shuts down the sockets of one exchange once its deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.expired = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def trace(self, name: str, info: Mapping[str, Any]) -> None:
        if name != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.append(sock)
                if self.expired.is_set():
                    _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def exchange(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    deadline_s: float,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request and its whole answer within ``deadline_s`` seconds and ``max_bytes`` bytes.

    Raises ``DeadlineExceeded``, ``ResponseTooLarge``, or ``httpx.HTTPError`` (unreachable).
    """
    started = time.monotonic()
    phase = httpx.Timeout(deadline_s, connect=min(deadline_s, 10.0))
    with _Watchdog(deadline_s) as watchdog:
        try:
            request = client.build_request(
                method,
                url,
                content=content,
                headers=headers,
                timeout=phase,
                extensions={"trace": watchdog.trace},
            )
            response = client.send(request, stream=True)
            try:
                body = _read_capped(response, max_bytes, started + deadline_s)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            if watchdog.expired.is_set() or time.monotonic() - started >= deadline_s:
                raise DeadlineExceeded(f"no complete answer within {deadline_s:g} s") from exc
            raise
        if watchdog.expired.is_set():
            raise DeadlineExceeded(f"no complete answer within {deadline_s:g} s")
    return Answer(response.status_code, response.headers, body)


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(int(declared), max_bytes, declared=True)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(size, max_bytes, declared=False)
        chunks.append(chunk)
        if time.monotonic() >= deadline:
            raise DeadlineExceeded("the body was still arriving at the deadline")
    return b"".join(chunks)
