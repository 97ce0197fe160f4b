"""The head server: the registry NeMo Gym's clients ask where every server lives.

``GET /server_instances`` lists each server as NeMo Gym's head server does (``name``,
``server_type``, ``url``, ``host``, ``port``...); ``GET /readyz`` answers once all are up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI

ServerType = Literal["responses_api_models", "resources_servers", "responses_api_agents"]


@dataclass(frozen=True, slots=True)
class ServerInstance:
    name: str
    server_type: ServerType
    url: str
    entrypoint: str = ""

    def to_dict(self) -> dict[str, Any]:
        host, _, port = self.url.removeprefix("http://").partition(":")
        return {
            "process_name": f"{self.server_type}.{self.name}",
            "server_type": self.server_type,
            "name": self.name,
            "entrypoint": self.entrypoint,
            "host": host,
            "port": int(port) if port.isdigit() else None,
            "url": self.url,
            "pid": None,
            "config_path": None,
        }


def create_head_app(instances: Sequence[ServerInstance]) -> FastAPI:
    listing = [instance.to_dict() for instance in instances]
    app = FastAPI(title="head_server")

    @app.get("/server_instances")
    def server_instances() -> list[dict[str, Any]]:
        return listing

    @app.get("/readyz")
    @app.get("/health")
    def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app
