"""The embedded reference stack: model server, resource servers, agents and a head server.

Every server runs with uvicorn in a thread of this process, on a free loopback port, and all
of them stop when the ``with`` block ends, Ctrl-C included. With ``base_url`` the model server
is the user's endpoint, and the embedded Gym environment drives it.

>>> with start_stack() as stack:
...     collect_rollouts(stack.gym_url, stack.tasks)
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gymcheck.lifecycle import Service
from gymcheck.openai_client import OpenAIClient
from gymcheck.reference.faults import (
    DETACHED_PARAMETER_MODEL,
    FAULTS,
    Fault,
    serve_with_wrong_tokenizer,
)
from gymcheck.reference.gym import tasks as task_rows
from gymcheck.reference.gym.agent import AgentConfig, create_agent_app
from gymcheck.reference.gym.head import ServerInstance, create_head_app
from gymcheck.reference.gym.multi_step import MultiStepResourcesServer
from gymcheck.reference.gym.resources import ResourcesServer
from gymcheck.reference.gym.single_tool import SingleToolResourcesServer
from gymcheck.reference.serving import BackgroundServer

RESOURCES_SERVERS: dict[str, type[ResourcesServer]] = {
    task_rows.SINGLE_TOOL: SingleToolResourcesServer,
    task_rows.MULTI_STEP: MultiStepResourcesServer,
}
DEFAULT_MODEL_NAME = "gymcheck-tiny"
MODEL_SERVER_NAME = "policy_model"
AGENT_IMPLEMENTATION = "simple_agent"
"""What the embedded agents are, as ``/server_instances`` names it; their instance names differ."""


class ReferenceStack(Service):
    """The running stack. Use ``start_stack`` (or ``with ReferenceStack(...)``)."""

    def __init__(
        self,
        *,
        fault: Fault | None = None,
        model_dir: Path | None = None,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        envs: Sequence[str] | None = None,
        agent_timeout: float = 60.0,
    ) -> None:
        self.fault = fault
        self.envs = task_rows.select_envs(envs)
        self.external = base_url is not None
        self.base_url: str = base_url or ""
        self.model: str | None = model
        self.model_dir: Path | None = None if self.external else model_dir
        """The served model's directory (its tokenizer is the served one)."""
        self.train_model: str | None = (
            DETACHED_PARAMETER_MODEL if fault is Fault.DETACHED_PARAMETER else None
        )
        """The training model, when the stack plants one; else the served model's."""
        self._scratch: str | None = None
        self._api_key = api_key
        self._agent_timeout = agent_timeout
        self.gym_url = ""
        self.agent_name = task_rows.agent_name(self.envs[0])
        self.agent_urls: dict[str, str] = {}
        self.tasks = task_rows.default_tasks(
            self.envs,
            max_output_tokens=task_rows.EXTERNAL_MAX_OUTPUT_TOKENS
            if self.external
            else task_rows.EMBEDDED_MAX_OUTPUT_TOKENS,
        )
        self._servers: list[BackgroundServer] = []
        self._started = False

    def _layer_fault(self, layer: str) -> Fault | None:
        if self.fault is not None and FAULTS[self.fault].layer == layer:
            return self.fault
        return None

    def _serve(self, app: Any) -> str:
        server = BackgroundServer(app)
        self._servers.append(server)  # before start: a failed start is still stopped
        server.start()
        return server.url

    def start(self) -> ReferenceStack:
        """Start every server (once); on any failure, stop what had started and re-raise."""
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        instances: list[ServerInstance] = []
        if not self.external:
            self._start_model_server()
        elif self.model is None:
            self.model = _served_model(self.base_url, self._api_key)
        instances.append(
            ServerInstance(
                MODEL_SERVER_NAME,
                "responses_api_models",
                self.base_url,
                implementation="vllm_model",
            )
        )
        for env in self.envs:
            resources = RESOURCES_SERVERS[env](fault=self._layer_fault("resource"))
            resources_url = self._serve(resources.create_app())
            instances.append(
                ServerInstance(
                    task_rows.resources_name(env),
                    "resources_servers",
                    resources_url,
                    implementation=env,
                )
            )
            config = AgentConfig(
                name=task_rows.agent_name(env),
                resources_url=resources_url,
                model_base_url=self.base_url,
                model=self.model,
                api_key=self._api_key,
                max_steps=task_rows.MAX_STEPS[env],
                fault=self._layer_fault("agent"),
                timeout=self._agent_timeout,
            )
            agent_url = self._serve(create_agent_app(config))
            self.agent_urls[config.name] = agent_url
            instances.append(
                ServerInstance(
                    config.name,
                    "responses_api_agents",
                    agent_url,
                    implementation=AGENT_IMPLEMENTATION,
                    resources_server=task_rows.resources_name(env),
                )
            )
        self.gym_url = self._serve(create_head_app(instances))

    def _start_model_server(self) -> None:
        from gymcheck.reference.model import ensure_reference_model
        from gymcheck.reference.server import create_app

        self.model_dir = Path(self.model_dir) if self.model_dir else ensure_reference_model()
        if self.fault is Fault.WRONG_TOKENIZER:
            self._scratch = tempfile.mkdtemp(prefix="gymcheck-stack-")
            self.model_dir = serve_with_wrong_tokenizer(self.model_dir, Path(self._scratch))
        self.model = self.model or DEFAULT_MODEL_NAME
        app = create_app(
            self.model_dir, served_model_name=self.model, fault=self._layer_fault("server")
        )
        self.base_url = self._serve(app)

    def stop(self) -> None:
        """Stop every server, newest first; safe to call twice."""
        while self._servers:
            server = self._servers.pop()
            with contextlib.suppress(Exception):
                server.stop()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _served_model(base_url: str, api_key: str | None) -> str | None:
    """The first model an external endpoint lists; ``None`` when it cannot say (the agent asks
    again per rollout, and the endpoint check reports why)."""
    try:
        with OpenAIClient(base_url, api_key=api_key, timeout=10.0) as client:
            return str(client.models()["data"][0]["id"])
    except Exception:
        return None


def start_stack(**options: Any) -> ReferenceStack:
    """``ReferenceStack(**options)``, started; use it as ``with start_stack() as stack: ...`` so
    it stops.

    The model server is the embedded reference model (built and cached on first use) unless
    ``base_url`` names an endpoint. ``fault`` plants one fault in its layer.
    """
    return ReferenceStack(**options).start()
