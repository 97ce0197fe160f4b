"""The resource server base class: mounts the routes the way NeMo Gym's ``base_resources_server``
does, so each environment only declares its tools and its ``verify``.

Routes: ``POST /seed_session`` (starts an episode, sets the session cookie), ``POST /{tool}``
for each tool (the tool's JSON arguments in, its JSON result out), ``POST /verify`` (the run
request plus ``response`` in, the same plus ``reward`` out), and ``GET /health``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Body, FastAPI, Response
from fastapi.responses import JSONResponse

from gymcheck.errors import GymcheckError
from gymcheck.reference.faults import Fault

JsonBody = Annotated[dict[str, Any], Body()]
ToolHandler = Callable[[Mapping[str, Any]], dict[str, Any]]

SESSION_COOKIE = "gymcheck_session"
# What ``reward-out-of-range`` adds: a bonus on top of the [0, 1] score, as an environment that
# forgot to normalize would.
OUT_OF_RANGE_BONUS = 1.5


class ToolArgumentError(GymcheckError):
    """Arguments a tool cannot use; the tool answers 422 with the reason, as NeMo Gym's do."""


class ResourcesServer:
    """Subclasses set ``name`` and ``tool_handlers``, and implement ``verify``."""

    name: str = "resources_server"
    tool_handlers: Mapping[str, ToolHandler] = {}

    def __init__(self, *, fault: Fault | None = None) -> None:
        self.fault = fault
        self.tools: dict[str, ToolHandler] = dict(self.tool_handlers)

    def verify(self, body: Mapping[str, Any]) -> float:
        """The reward of a finished episode: ``body`` is the task row plus ``response``."""
        raise NotImplementedError

    def create_app(self) -> FastAPI:
        app = FastAPI(title=self.name)

        @app.get("/health")
        def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.post("/seed_session")
        def seed_session(response: Response, body: JsonBody) -> dict[str, Any]:
            response.set_cookie(SESSION_COOKIE, uuid.uuid4().hex)
            return {}

        @app.post("/verify")
        def verify(body: JsonBody) -> Any:
            if not isinstance(body.get("response"), Mapping):
                return JSONResponse({"error": {"message": "verify needs 'response'"}}, 422)
            reward = float(self.verify(body))
            if self.fault is Fault.REWARD_OUT_OF_RANGE:
                reward += OUT_OF_RANGE_BONUS
            return {**body, "reward": reward}

        for tool_name, handler in self.tools.items():
            app.post(f"/{tool_name}")(_tool_route(handler))
        return app


def _tool_route(handler: ToolHandler) -> Callable[..., Any]:
    def route(body: JsonBody) -> Any:
        try:
            return handler(body)
        except ToolArgumentError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)

    return route


# --- helpers the environments share ----------------------------------------------------------


def function_calls(response: Mapping[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """``(name, parsed arguments or None)`` of every ``function_call`` in ``response.output``."""
    calls: list[tuple[str, dict[str, Any] | None]] = []
    output = response.get("output")
    for item in output if isinstance(output, list) else []:
        if not isinstance(item, Mapping) or item.get("type") != "function_call":
            continue
        try:
            arguments = json.loads(item.get("arguments") or "")
        except (TypeError, ValueError):
            arguments = None
        calls.append((str(item.get("name")), arguments if isinstance(arguments, dict) else None))
    return calls


def string_arg(arguments: Mapping[str, Any], key: str) -> str:
    value = arguments.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ToolArgumentError(f"'{key}' must be a non-empty string")
    return value.strip()


def int_arg(arguments: Mapping[str, Any], key: str) -> int:
    value = arguments.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolArgumentError(f"'{key}' must be an integer")
    return value
