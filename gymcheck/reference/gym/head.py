"""The head server: the registry NeMo Gym's clients ask where every server lives.

``GET /server_instances`` lists each server as NeMo Gym 0.7.0's head server does:
``process_name`` and ``config_path`` are the instance name from the config
(``multi_step_agent``), ``name`` is the implementation (``simple_agent``), with ``server_type``,
``url``, ``host`` and ``port``. ``GET /global_config_dict_yaml`` is the config those instances
come from (as Gym: a JSON string holding YAML), which routes rows by ``task_source``.
``GET /readyz`` answers once all are up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from fastapi import FastAPI

ServerType = Literal["responses_api_models", "resources_servers", "responses_api_agents"]


@dataclass(frozen=True, slots=True)
class ServerInstance:
    name: str
    """The instance name, as rows' ``agent_ref.name`` use it."""
    server_type: ServerType
    url: str
    implementation: str = ""
    """What the server is (``simple_agent``); defaults to the instance name."""
    resources_server: str | None = None
    """For an agent: the resources server instance it plays against."""
    entrypoint: str = "app.py"

    @property
    def host_port(self) -> tuple[str, int | None]:
        host, _, port = self.url.removeprefix("http://").partition(":")
        return host, int(port) if port.isdigit() else None

    def to_dict(self) -> dict[str, Any]:
        host, port = self.host_port
        return {
            "config_path": self.name,
            "dir_path": f"{self.server_type}/{self.implementation or self.name}",
            "entrypoint": self.entrypoint,
            "host": host,
            "name": self.implementation or self.name,
            "pid": None,
            "port": port,
            "process_name": self.name,
            "server_type": self.server_type,
            "url": self.url,
        }

    def config_block(self) -> dict[str, Any]:
        host, port = self.host_port
        inner: dict[str, Any] = {"entrypoint": self.entrypoint, "host": host, "port": port}
        if self.resources_server is not None:
            inner["resources_server"] = {"type": "resources_servers", "name": self.resources_server}
        return {self.server_type: {self.implementation or self.name: inner}}


def create_head_app(instances: Sequence[ServerInstance]) -> FastAPI:
    listing = [instance.to_dict() for instance in instances]
    config_yaml = yaml.safe_dump({i.name: i.config_block() for i in instances}, sort_keys=False)
    app = FastAPI(title="head_server")

    @app.get("/server_instances")
    def server_instances() -> list[dict[str, Any]]:
        return listing

    @app.get("/global_config_dict_yaml")
    def global_config_dict_yaml() -> str:
        return config_yaml

    @app.get("/readyz")
    @app.get("/health")
    def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app
