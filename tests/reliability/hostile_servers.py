"""A zoo of hostile HTTP servers on loopback, written on raw sockets so that each can misbehave
at the byte level: never answer, trickle, send without end, lie about sizes, echo secrets.

Every server is bounded in time: its handlers stop when the server is closed or after
``LIFETIME_S``, whichever is first, so a test that goes wrong cannot hang on them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass

LIFETIME_S = 60.0
TRICKLE_S = 0.05
"""The trickling servers' pace: a byte every 50 ms, far under any deadline the tests give, so
only a total deadline (not a per-read timeout) can stop them."""


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[socket.socket, Request, threading.Event], None]


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, path, headers, body)


def respond(
    conn: socket.socket,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
) -> None:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    headers.update(extra or {})
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    conn.sendall(head.encode("latin-1") + b"Connection: close\r\n\r\n" + body)


def respond_json(conn: socket.socket, status: int, value: object, **kwargs: object) -> None:
    respond(conn, status, json.dumps(value).encode(), **kwargs)  # type: ignore[arg-type]


class HostileServer:
    """``with HostileServer(handler) as server: server.url``; one thread per connection."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.02)  # how soon the accept loop sees the server closing
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[Request] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> HostileServer:
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        self._threads.append(thread)
        timer = threading.Timer(LIFETIME_S, self._stop.set)
        timer.daemon = True
        timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError), conn:
            conn.settimeout(LIFETIME_S)
            request = _read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            self._handler(conn, request, self._stop)


def wait(stop: threading.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless the server stops first; ``False`` once it has stopped."""
    return not stop.wait(seconds)


# --- the zoo -------------------------------------------------------------------------------


def blackhole(conn: socket.socket, request: Request, stop: threading.Event) -> None:
    """Accepts, reads the request, never answers."""
    stop.wait()


def trickle_headers(conn: socket.socket, request: Request, stop: threading.Event) -> None:
    """A status line, then one byte of a never-ending header every ``TRICKLE_S``."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while wait(stop, TRICKLE_S):
        conn.sendall(b"a")


def trickle_body(conn: socket.socket, request: Request, stop: threading.Event) -> None:
    """Headers at once, then the body one byte every ``TRICKLE_S``."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    while wait(stop, TRICKLE_S):
        conn.sendall(b" ")


def endless_body(conn: socket.socket, request: Request, stop: threading.Event) -> None:
    """A chunked body that never ends, as fast as the client reads it."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    while not stop.is_set():
        conn.sendall(frame)


def huge_content_length(conn: socket.socket, request: Request, stop: threading.Event) -> None:
    """Declares 10 GB and starts sending them."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
    )
    chunk = b" " * 65536
    while not stop.is_set():
        conn.sendall(chunk)


def redirect_elsewhere(conn: socket.socket, request: Request, stop: threading.Event) -> None:
    """Every route redirects to another host (which would receive the API key if followed)."""
    respond(conn, 302, b"", extra={"Location": "http://192.0.2.1:9/v1/models"})


def wrong_shapes(conn: socket.socket, request: Request, stop: threading.Event) -> None:
    """Well-formed HTTP, JSON of the wrong shape on every route."""
    if request.path.endswith("/models"):
        respond_json(conn, 200, {"data": [{"id": "m"}]})
    elif request.path.endswith("/chat/completions"):
        respond_json(conn, 200, [{"choices": "not a list"}])
    else:
        respond_json(conn, 200, "a string")


def models_route(request: Request, conn: socket.socket) -> bool:
    if request.path.endswith("/models"):
        respond_json(conn, 200, {"object": "list", "data": [{"id": "hostile-model"}]})
        return True
    return False


def huge_generation(conn: socket.socket, request: Request, stop: threading.Event) -> None:
    """Answers every chat in token form 1, with 50,000 generated ids whatever max_tokens says."""
    if models_route(request, conn):
        return
    generated = list(range(100, 50_100))
    message = {
        "role": "assistant",
        "content": "x" * 10,
        "prompt_token_ids": [1, 2, 3],
        "generation_token_ids": generated,
        "generation_log_probs": [-0.5] * len(generated),
    }
    respond_json(
        conn,
        200,
        {
            "id": "c",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": len(generated)},
        },
    )


def echo_forms(secret: str) -> list[str]:
    """Every form of ``secret`` the echo server sends back."""
    raw = secret.encode()
    return [
        secret,
        secret.upper(),
        secret.lower(),
        base64.b64encode(raw).decode(),
        base64.b64encode(b"Bearer " + raw).decode(),
        base64.urlsafe_b64encode(b"x" + raw).decode(),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret, safe="").lower(),
        "".join(f"\\u{ord(c):04x}" for c in secret),
        json.dumps(json.dumps({"key": secret}))[1:-1],
    ]


def secret_echo(conn: socket.socket, request: Request, stop: threading.Event) -> None:
    """Lists a model, then answers every other call with a 500 that echoes the request's
    Authorization and Cookie headers, in every form, in the body and its headers."""
    if models_route(request, conn):
        return
    auth = request.headers.get("authorization", "")
    secret = auth.removeprefix("Bearer ")
    forms = echo_forms(secret) if secret else []
    message = (
        f"upstream rejected key={secret} "
        + " ".join(f"form{k}={form}" for k, form in enumerate(forms))
        + f" Authorization: {auth} cookie: session={secret}; other=1"
    )
    respond_json(
        conn,
        500,
        {"error": {"message": message, "headers": {"authorization": auth}}, "echo": forms},
        extra={"X-Echo-Authorization": auth, "Set-Cookie": f"session={secret}"},
    )


@contextlib.contextmanager
def serving(handler: Handler) -> Iterator[HostileServer]:
    started = time.monotonic()
    with HostileServer(handler) as server:
        yield server
    assert time.monotonic() - started < LIFETIME_S + 10
