"""The multi-step environment: a task that needs two tool calls, with a graded reward.

Each expected call scores 1 when a call has its name and arguments, 0.5 for the name alone;
the reward is the mean over the expected calls, so it lies in [0, 1] in steps of 0.25.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gymcheck.reference.gym import tools
from gymcheck.reference.gym.resources import ResourcesServer, function_calls
from gymcheck.reference.gym.tasks import MULTI_STEP, resources_name


def _same_arguments(expected: Mapping[str, Any], actual: Mapping[str, Any] | None) -> bool:
    if actual is None:
        return False

    def norm(value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    return {k: norm(v) for k, v in expected.items()} == {k: norm(v) for k, v in actual.items()}


class MultiStepResourcesServer(ResourcesServer):
    name = resources_name(MULTI_STEP)
    tool_handlers = tools.REFERENCE_TOOL_HANDLERS

    def verify(self, body: Mapping[str, Any]) -> float:
        expected = body.get("expected_calls")
        if not isinstance(expected, list) or not expected:
            return 0.0
        calls = function_calls(body["response"])
        total = 0.0
        for want in expected:
            if not isinstance(want, Mapping):
                continue
            name, arguments = want.get("name"), want.get("arguments") or {}
            named = [args for called, args in calls if called == name]
            if any(_same_arguments(arguments, args) for args in named):
                total += 1.0
            elif named:
                total += 0.5
        return total / len(expected)
