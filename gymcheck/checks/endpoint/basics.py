"""Sub-checks ``models``, ``chat`` and ``tool_calls``: the server answers the calls Gym makes."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gymcheck.checks.endpoint.probe import Completion, Probe
from gymcheck.checks.endpoint.requests import TOOLS, chat_body, tool_body
from gymcheck.openai_client import EndpointCallError
from gymcheck.redact import clip
from gymcheck.report import Status
from gymcheck.tokeninfo import extract_token_info

TOOL_ATTEMPTS = 4


def check_models(probe: Probe, wanted: str | None) -> None:
    try:
        body = probe.client.models()
    except EndpointCallError as exc:
        probe.call_failed("models", exc, "GET /v1/models")
        if wanted:
            probe.model = wanted
        return
    data = body.get("data") if isinstance(body, Mapping) else None
    entries = [e for e in data if isinstance(e, Mapping)] if isinstance(data, list) else []
    ids = [str(e.get("id")) for e in entries if e.get("id")]
    if not ids:
        probe.model = wanted or ""
        probe.fail("models", "GET /v1/models lists no model")
        return
    probe.model = wanted or ids[0]
    chosen = next((e for e in entries if e.get("id") == probe.model), None)
    if chosen is not None:
        root = chosen.get("root")
        probe.model_root = str(root) if root else probe.model
    shown = ", ".join(ids[:5]) + (f" (+{len(ids) - 5} more)" if len(ids) > 5 else "")
    if wanted and wanted not in ids:
        probe.record(
            "models",
            Status.WARN,
            f"--model {wanted!r} is not among the listed models ({shown}); requests use it anyway",
            fix="pass --model with one of the ids GET /v1/models lists",
        )
        return
    probe.record("models", Status.PASS, f"lists {shown}; probing {probe.model!r}")


def post_chat(probe: Probe, request: dict[str, Any]) -> Completion:
    """One chat completion, timed; ``EndpointCallError`` when it fails."""
    start = time.perf_counter()
    body = probe.client.chat(request)
    seconds = time.perf_counter() - start
    if not isinstance(body, Mapping):
        raise EndpointCallError(
            f"POST /v1/chat/completions answered a JSON {type(body).__name__}, not an object",
            cause="invalid_json",
        )
    completion = Completion(request=request, body=body, seconds=seconds)
    completion.info = extract_token_info(body)
    if completion.info is not None and completion.info.prompt_token_ids is not None:
        completion.prompt_ids = completion.info.prompt_token_ids
    return completion


def check_chat(probe: Probe) -> None:
    try:
        completion = post_chat(probe, chat_body(probe.model))
    except EndpointCallError as exc:
        probe.call_failed("chat", exc, "POST /v1/chat/completions")
        return
    message = completion.message
    if not message:
        probe.fail(
            "chat",
            "the answer has no choices[0].message: "
            f"{clip(json.dumps(completion.body, default=str), 160)}",
        )
        return
    probe.chat = completion
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    probe.record(
        "chat",
        Status.PASS,
        f"completed in {completion.seconds:.2f} s (finish_reason "
        f"{completion.choice.get('finish_reason')!s}, {len(text)} chars of content)",
    )


def tool_call_problem(message: Mapping[str, Any]) -> str | None:
    calls = message.get("tool_calls")
    if not isinstance(calls, list) or not calls:
        content = message.get("content")
        preview = json.dumps(content if isinstance(content, str) else None)[:120]
        return f"no tool_calls in the message (content: {preview})"
    names = {t["function"]["name"] for t in TOOLS}
    for i, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or function.get("name") not in names:
            return f"tool_calls[{i}] does not name a given tool: {json.dumps(call)[:120]}"
        try:
            arguments = json.loads(function.get("arguments") or "")
        except (TypeError, ValueError):
            return f"tool_calls[{i}].function.arguments is not JSON: {function.get('arguments')!r}"
        if not isinstance(arguments, dict):
            return f"tool_calls[{i}].function.arguments is not a JSON object"
    return None


def check_tool_calls(probe: Probe) -> None:
    # A sampled call can run out of tokens inside a string argument, or come out as JSON the
    # server's parser rejects; one such sample says little about the server, so retry.
    attempt = 0
    while attempt < TOOL_ATTEMPTS:
        attempt += 1
        try:
            completion = post_chat(probe, tool_body(probe.model))
        except EndpointCallError as exc:
            probe.call_failed("tool_calls", exc, "a request with tools and tool_choice 'required'")
            return
        problem = tool_call_problem(completion.message)
        finish = completion.choice.get("finish_reason")
        if problem is None:
            break
    if problem is not None:
        probe.fail(
            "tool_calls",
            f"tool_choice 'required' gave {problem} (finish_reason {finish}; {attempt} attempts)",
        )
        return
    probe.tool_turn = completion
    calls = completion.message["tool_calls"]
    first = calls[0]["function"]
    retried = f" (attempt {attempt} of {TOOL_ATTEMPTS})" if attempt > 1 else ""
    probe.record(
        "tool_calls",
        Status.PASS,
        f"{len(calls)} tool call(s) parsed, first {first['name']}({first['arguments']}){retried}",
    )


def local_model_dir(probe: Probe) -> Path | None:
    """The served model's directory when the server runs on this machine (vLLM lists its path)."""
    for candidate in (probe.model_root, probe.model):
        if candidate:
            path = Path(candidate).expanduser()
            if (path / "tokenizer_config.json").is_file() or (path / "tokenizer.json").is_file():
                return path
    return None
