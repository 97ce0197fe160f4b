"""The embedded environments' task rows, in NeMo Gym's JSONL row format.

A row holds ``responses_create_params`` (a Responses-API request: ``input``, ``tools``,
``tool_choice``...), an ``agent_ref`` naming the agent that runs it, and task fields the
resource server's ``verify`` reads. Every row sets ``tool_choice: "required"``, as NeMo Gym task
data can, so that episodes have real tool calls even from a model with random weights.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from gymcheck.errors import UsageError
from gymcheck.reference.episodes import REFERENCE_TOOLS

SINGLE_TOOL = "single_tool"
MULTI_STEP = "multi_step"
ENVS: tuple[str, ...] = (SINGLE_TOOL, MULTI_STEP)

SYSTEM_PROMPT = "You are a helpful assistant."

# The tools the reference model is trained on, in the Responses-API format (flat, as NeMo Gym
# rows hold them).
ALL_TOOLS: list[dict[str, Any]] = [
    {"type": "function", **copy.deepcopy(tool["function"]), "strict": True}
    for tool in REFERENCE_TOOLS
]

# Sized for speed on a CPU; a random-weights model behind vLLM needs ~300 tokens to close a
# constrained tool call, so external endpoints get more.
EMBEDDED_MAX_OUTPUT_TOKENS = 160
EXTERNAL_MAX_OUTPUT_TOKENS = 384
MAX_STEPS = {SINGLE_TOOL: 1, MULTI_STEP: 3}


def agent_name(env: str) -> str:
    return f"{env}_agent"


def resources_name(env: str) -> str:
    return f"{env}_resources_server"


def select_envs(envs: Sequence[str] | None) -> list[str]:
    """The environments named (all when ``None``); ``UsageError`` for an unknown name."""
    if not envs:
        return list(ENVS)
    unknown = [e for e in envs if e not in ENVS]
    if unknown:
        raise UsageError(f"unknown environment {unknown[0]!r}; known: {', '.join(ENVS)}")
    return list(dict.fromkeys(envs))


def _row(
    env: str,
    question: str,
    *,
    seed: int,
    max_output_tokens: int,
    **task_fields: Any,
) -> dict[str, Any]:
    return {
        "responses_create_params": {
            "input": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": question},
            ],
            "tools": ALL_TOOLS,
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "max_output_tokens": max_output_tokens,
            "temperature": 1.0,
        },
        "agent_ref": {"type": "responses_api_agents", "name": agent_name(env)},
        "env": env,
        "seed": seed,
        **task_fields,
    }


def single_tool_tasks(max_output_tokens: int) -> list[dict[str, Any]]:
    """One ``get_weather`` call; reward 1 for making it."""
    return [
        _row(
            SINGLE_TOOL,
            f"What is the weather in {city}?",
            seed=seed,
            max_output_tokens=max_output_tokens,
            expected_tool="get_weather",
        )
        for seed, city in ((11, "Paris"), (12, "Tokyo"))
    ]


def multi_step_tasks(max_output_tokens: int) -> list[dict[str, Any]]:
    """Two tool calls needed; the reward is graded by how many the episode got right."""
    tasks = [
        (
            21,
            "What is the weather in Oslo, and what is 12 plus 30?",
            [
                {"name": "get_weather", "arguments": {"city": "Oslo"}},
                {"name": "add_numbers", "arguments": {"a": 12, "b": 30}},
            ],
        ),
        (
            22,
            "Give me a synonym for happy, then add 7 and 5.",
            [
                {"name": "lookup_synonym", "arguments": {"word": "happy"}},
                {"name": "add_numbers", "arguments": {"a": 7, "b": 5}},
            ],
        ),
        (
            23,
            "Find a synonym of fast and tell me the weather in Lima.",
            [
                {"name": "lookup_synonym", "arguments": {"word": "fast"}},
                {"name": "get_weather", "arguments": {"city": "Lima"}},
            ],
        ),
    ]
    return [
        _row(
            MULTI_STEP,
            question,
            seed=seed,
            max_output_tokens=max_output_tokens,
            expected_calls=calls,
        )
        for seed, question, calls in tasks
    ]


def default_tasks(
    envs: Sequence[str] | None = None,
    *,
    max_output_tokens: int = EMBEDDED_MAX_OUTPUT_TOKENS,
) -> list[dict[str, Any]]:
    """The task rows of the named environments (all by default), in a fixed order."""
    builders = {SINGLE_TOOL: single_tool_tasks, MULTI_STEP: multi_step_tasks}
    return [row for env in select_envs(envs) for row in builders[env](max_output_tokens)]
