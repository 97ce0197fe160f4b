"""Sub-check ``multi_turn``: does the server keep turn 1's exact tokens in turn 2's prompt?

Gym sends each earlier assistant turn back with its token fields. NeMo RL's server splices those
exact ids into the new prompt (``required_prefix_token_ids``), so the prompt extends the
previous prompt + generation. Stock vLLM re-renders the parsed tool call through the chat
template instead, so the prompt holds text the model never generated: every tool-calling turn
of every rollout then breaks ``token_continuity``.
"""

from __future__ import annotations

from typing import Any

from gymcheck.checks.endpoint.basics import post_chat, tool_call_problem
from gymcheck.checks.endpoint.fixes import FIXES
from gymcheck.checks.endpoint.known_turn import known_turn
from gymcheck.checks.endpoint.probe import Completion, Probe
from gymcheck.checks.endpoint.requests import (
    TOOL_RESULT,
    TOOLS,
    TURN2_MAX_TOKENS,
    tool_body,
    tool_results,
)
from gymcheck.checks.endpoint.tokens import tokenize_ids, window
from gymcheck.openai_client import EndpointCallError
from gymcheck.report import Finding, Status
from gymcheck.rollout import first_divergence
from gymcheck.tokeninfo import GYM_TOKEN_REQUEST_PARAMS

MULTI_TURN_SAMPLES = 3

KNOWN_GENERATION = (
    "(Turn 1 went back as a fixed get_weather call whose generation has JSON spacing that a "
    "decoding grammar may sample and no chat template writes, so the verdict does not depend "
    "on sampling.) "
)

CONSEQUENCE = (
    "Every tool-calling turn of a multi-turn rollout through this server breaks "
    "token_continuity: the trainer's sequence holds prompt tokens the model never generated, "
    "so multi-turn training is off-policy (NeMo RL rejects or masks those rollouts). "
    "Single-turn training through it is sound."
)


def turn2_request(probe: Probe, turn1: Completion) -> dict[str, Any]:
    """Turn 1's conversation + its assistant message (with token fields) + the tool results."""
    assert turn1.info is not None and turn1.prompt_ids is not None
    assistant: dict[str, Any] = {
        "role": "assistant",
        "content": turn1.message.get("content"),
        "tool_calls": turn1.message["tool_calls"],
        "prompt_token_ids": turn1.prompt_ids,
        "generation_token_ids": turn1.info.generation_token_ids,
        "generation_log_probs": turn1.info.generation_log_probs,
    }
    results = tool_results(turn1.message["tool_calls"])
    return {
        "model": probe.model,
        "messages": [*turn1.request["messages"], assistant, *results],
        "tools": TOOLS,
        "max_tokens": TURN2_MAX_TOKENS,
        **GYM_TOKEN_REQUEST_PARAMS,
    }


def as_rollout(turn1: Completion, turn2: Completion, request2: dict[str, Any]) -> dict[str, Any]:
    """The two turns as a NeMo Gym rollout record, for the token_continuity diagnosis."""
    assert turn1.info is not None and turn2.info is not None
    call = turn1.message["tool_calls"][0]
    turn2_text = turn2.message.get("content") or ""
    return {
        "responses_create_params": {"input": turn1.request["messages"]},
        "response": {
            "output": [
                {
                    "type": "function_call",
                    "name": call["function"]["name"],
                    "arguments": call["function"]["arguments"],
                    "call_id": call.get("id", "call_0"),
                    "prompt_token_ids": turn1.prompt_ids,
                    "generation_token_ids": turn1.info.generation_token_ids,
                    "generation_log_probs": turn1.info.generation_log_probs,
                },
                {"type": "function_call_output", "call_id": call.get("id"), "output": TOOL_RESULT},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": turn2_text}],
                    "prompt_token_ids": turn2.prompt_ids,
                    "generation_token_ids": turn2.info.generation_token_ids,
                    "generation_log_probs": turn2.info.generation_log_probs,
                },
            ]
        },
        "reward": 0.0,
    }


def diagnose_turn2(
    tokenizer: Any, turn1: Completion, turn2: Completion, request: dict[str, Any]
) -> Finding | None:
    """``token_continuity``'s own diagnosis of turn 2's break, on the two turns as a rollout."""
    from gymcheck.checks.continuity import diagnose_continuity

    findings = diagnose_continuity(as_rollout(turn1, turn2, request), tokenizer=tokenizer)
    return findings[0] if findings else None


def check_multi_turn(probe: Probe) -> None:
    turn1 = probe.tool_turn
    if probe.skipped("multi_turn"):
        return
    if turn1 is None:
        probe.record("multi_turn", Status.SKIP, "skipped: needs a tool call in turn 1")
        return
    if turn1.info is None or turn1.prompt_ids is None:
        probe.record(
            "multi_turn", Status.SKIP, "skipped: turn 1 came without prompt and generation ids"
        )
        return
    known = known_turn(probe.tokenizer, turn1)
    if known is not None:
        _probe_spliced(probe, known, generation="known")
    else:
        _probe_spliced(probe, turn1, generation="sampled")


SPLICES = (
    "the server splices earlier turns' exact tokens, so multi-turn rollouts keep token continuity"
)


def _probe_spliced(probe: Probe, turn1: Completion, *, generation: str) -> None:
    """Turn 2 after turn 1 must start with turn 1's prompt + generation.

    A ``known`` generation (spaced as no template renders it) gives the same answer on every
    run: one turn 2. Without a chat template to write one, several ``sampled`` turns must
    agree: a re-rendering server can still reproduce one sample exactly (a canonically
    formatted call); a splicing server never breaks.
    """
    samples = 1 if generation == "known" else MULTI_TURN_SAMPLES
    for sample in range(1, samples + 1):
        outcome = _probe_once(probe, turn1)
        if outcome is None:
            return
        turn2, request, expected, index = outcome
        if index is not None:
            _warn_rerendered(probe, turn1, turn2, request, expected, index, generation=generation)
            return
        if sample < samples:
            another = _another_turn1(probe)
            if another is None:
                break
            turn1 = another
    _note_multi_turn(probe, None, generation, samples=sample)
    what = (
        "turn 2's prompt starts with turn 1's prompt + a tool-call generation spaced as no chat "
        "template renders it"
        if generation == "known"
        else f"in {sample} of {sample} tool-calling samples, turn 2's prompt starts with turn 1's "
        "prompt + generation"
    )
    probe.record("multi_turn", Status.PASS, f"{what}: {SPLICES}")


def _note_multi_turn(
    probe: Probe, token_index: int | None, generation: str, **found: int | str
) -> None:
    """The report's ``multi_turn`` details: the server splices when turn 2 does not break
    (``token_index`` None), with what the probe found (the samples, or the break's cause)."""
    probe.details["multi_turn"] = {
        "splices": token_index is None,
        "token_index": token_index,
        **found,
        "generation": generation,
    }


def _another_turn1(probe: Probe) -> Completion | None:
    try:
        completion = post_chat(probe, tool_body(probe.model))
    except EndpointCallError:
        return None
    if tool_call_problem(completion.message) is not None or completion.info is None:
        return None
    if completion.prompt_ids is None:
        try:
            completion.prompt_ids = tokenize_ids(probe, completion.request)
        except EndpointCallError:
            return None
    return completion


def _probe_once(
    probe: Probe, turn1: Completion
) -> tuple[Completion, dict[str, Any], list[int], int | None] | None:
    """Turn 2 after ``turn1``: (turn 2, its request, the expected prefix, the break or None)."""
    assert turn1.info is not None and turn1.prompt_ids is not None
    request = turn2_request(probe, turn1)
    try:
        turn2 = post_chat(probe, request)
        if turn2.info is not None and turn2.prompt_ids is None:
            turn2.prompt_ids = tokenize_ids(probe, request)
    except EndpointCallError as exc:
        probe.call_failed(
            "multi_turn",
            exc,
            "turn 2 (turn 1's assistant message sent back with its token fields, plus the tool "
            "result)",
            ". Gym sends every multi-turn request this way",
        )
        return None
    if turn2.info is None or turn2.prompt_ids is None:
        probe.record("multi_turn", Status.SKIP, "skipped: turn 2 came without prompt ids")
        return None
    expected = turn1.prompt_ids + turn1.info.generation_token_ids
    return turn2, request, expected, first_divergence(expected, turn2.prompt_ids)


def _warn_rerendered(
    probe: Probe,
    turn1: Completion,
    turn2: Completion,
    request: dict[str, Any],
    expected: list[int],
    index: int,
    *,
    generation: str,
) -> None:
    diagnosed = diagnose_turn2(probe.tokenizer, turn1, turn2, request)
    cause = diagnosed.cause if diagnosed is not None and diagnosed.cause else "unknown"
    generation_start = len(turn1.prompt_ids or [])
    where = (
        "inside turn 1's generation"
        if index >= generation_start
        else "before turn 1's generation (in the prompt)"
    )
    expected_text = window(probe.tokenizer, expected, index)
    actual_text = window(probe.tokenizer, turn2.prompt_ids or [], index)
    _note_multi_turn(probe, index, generation, cause=cause)
    message = (
        f"the server re-renders history: turn 2's prompt leaves turn 1's prompt + generation "
        f"at token {index}, {where} (cause {cause}), so multi-turn rollouts will break "
        "token_continuity; single-turn training through it is sound"
    )
    probe.record(
        "multi_turn",
        Status.WARN,
        message,
        finding=Finding(
            code="continuity_break",
            message="turn 2's prompt does not start with turn 1's prompt + generation: the "
            "server re-renders earlier turns instead of splicing their tokens. "
            + (KNOWN_GENERATION if generation == "known" else "")
            + CONSEQUENCE,
            severity="warning",
            cause=cause,
            turn=2,
            token_index=index,
            expected=expected_text,
            actual=actual_text,
            fix=FIXES["multi_turn"],
        ),
    )
