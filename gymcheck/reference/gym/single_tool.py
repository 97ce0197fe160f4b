"""The single-tool environment: one ``get_weather`` call, reward 1 for making it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gymcheck.reference.gym import tools
from gymcheck.reference.gym.resources import ResourcesServer, function_calls
from gymcheck.reference.gym.tasks import SINGLE_TOOL, resources_name


class SingleToolResourcesServer(ResourcesServer):
    name = resources_name(SINGLE_TOOL)
    tool_handlers = tools.REFERENCE_TOOL_HANDLERS

    def verify(self, body: Mapping[str, Any]) -> float:
        expected = str(body.get("expected_tool") or "get_weather")
        called = any(
            name == expected and arguments is not None
            for name, arguments in function_calls(body["response"])
        )
        return 1.0 if called else 0.0
