"""Validating the reference server's requests: messages, tools, sampling parameters, lengths.

Every problem raises ``RequestError``, which the app answers with an OpenAI-style error body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from gymcheck.errors import GymcheckError
from gymcheck.reference.faults import ServerFaults
from gymcheck.reference.generation import SamplingParams

ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
MAX_TOP_LOGPROBS = 20


class RequestError(GymcheckError):
    """A bad request, answered with an OpenAI-style error body."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        status: int = 400,
        error_type: str = "BadRequestError",
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.param, self.status = message, param, status
        self.error_type, self.code = error_type, code

    def response(self) -> JSONResponse:
        body = {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code if self.code is not None else self.status,
            }
        }
        return JSONResponse(body, status_code=self.status)


def _content_text(content: Any, where: str) -> str | None:
    """A message's content as text; OpenAI content parts of type ``text`` are joined."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") not in ("text", "input_text"):
                raise RequestError(
                    f"{where}.content: only text parts are supported", param="messages"
                )
            if not isinstance(part.get("text"), str):
                raise RequestError(
                    f"{where}.content: a text part needs a string 'text'", param="messages"
                )
            parts.append(part["text"])
        return "".join(parts)
    raise RequestError(
        f"{where}.content must be a string or a list of text parts", param="messages"
    )


def _id_list(value: Any, where: str, vocab_size: int) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v < vocab_size for v in value
    ):
        raise RequestError(f"{where} must be a list of token ids in [0, {vocab_size})", param=where)
    return value


def required_prefix_ids(body: Mapping[str, Any], vocab_size: int) -> list[int] | None:
    """NeMo Gym's prefix supply: a top-level ``required_prefix_token_ids``, checked."""
    raw = body.get("required_prefix_token_ids")
    return None if raw is None else _id_list(raw, "required_prefix_token_ids", vocab_size)


def normalize_messages(raw: Any, vocab_size: int) -> list[dict[str, Any]]:
    """Validated messages, content as text; token fields kept (checked) for splicing."""
    if not isinstance(raw, list) or not raw:
        raise RequestError("'messages' must be a non-empty list", param="messages")
    messages = []
    for index, message in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping):
            raise RequestError(f"{where} must be an object", param="messages")
        role = message.get("role")
        if role not in ROLES:
            raise RequestError(
                f"{where}.role must be one of {sorted(ROLES)}, not {role!r}", param="messages"
            )
        normalized = dict(message)
        normalized["role"] = "system" if role == "developer" else role
        content = _content_text(message.get("content"), where)
        if content is None and role != "assistant":
            raise RequestError(f"{where}.content is required for role {role!r}", param="messages")
        normalized["content"] = content if content is not None else ""
        tool_calls = message.get("tool_calls")
        if tool_calls is not None:
            _check_tool_calls(tool_calls, where)
        for key in ("reasoning_content", "reasoning"):
            if message.get(key) is not None and not isinstance(message[key], str):
                raise RequestError(f"{where}.{key} must be a string", param="messages")
        if normalized.get("reasoning_content") is None and isinstance(
            message.get("reasoning"), str
        ):
            normalized["reasoning_content"] = message["reasoning"]
        if message.get("prompt_token_ids") is not None:
            _id_list(message["prompt_token_ids"], f"{where}.prompt_token_ids", vocab_size)
            _id_list(
                message.get("generation_token_ids") or [],
                f"{where}.generation_token_ids",
                vocab_size,
            )
        messages.append({k: v for k, v in normalized.items() if v is not None})
    return messages


def _check_tool_calls(tool_calls: Any, where: str) -> None:
    if not isinstance(tool_calls, list):
        raise RequestError(f"{where}.tool_calls must be a list", param="messages")
    for i, call in enumerate(tool_calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise RequestError(f"{where}.tool_calls[{i}] needs function.name", param="messages")
        if not isinstance(function.get("arguments"), str | Mapping):
            raise RequestError(
                f"{where}.tool_calls[{i}].function.arguments must be a JSON string",
                param="messages",
            )


def normalize_tools(raw: Any) -> list[dict[str, Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise RequestError("'tools' must be a list", param="tools")
    for index, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise RequestError(f"tools[{index}] needs function.name", param="tools")
    return raw or None


def check_model(body: Mapping[str, Any], served_model_name: str, *, required: bool) -> None:
    model = body.get("model")
    if model is None and not required:
        return
    if model != served_model_name:
        raise RequestError(
            f"The model `{model}` does not exist.",
            param="model",
            status=404,
            error_type="NotFoundError",
        )


def check_length(prompt_len: int, max_tokens: int | None, max_model_len: int) -> int:
    """The completion's token budget: ``max_tokens``, or all the room the context leaves."""
    if prompt_len >= max_model_len:
        raise RequestError(
            f"This model's maximum context length is {max_model_len} tokens. However, "
            f"your request has {prompt_len} input tokens. Please reduce the length of the "
            "input messages.",
            param="messages",
        )
    room = max_model_len - prompt_len
    if max_tokens is None:
        return room
    if max_tokens > room:
        raise RequestError(
            f"This model's maximum context length is {max_model_len} tokens. However, "
            f"you requested {prompt_len + max_tokens} tokens ({prompt_len} in the messages, "
            f"{max_tokens} in the completion). Please reduce the length of the messages or "
            "completion.",
            param="max_tokens",
        )
    return max_tokens


@dataclass(frozen=True, slots=True)
class Sampling:
    """What a chat request asks of the generation."""

    params: SamplingParams
    logprobs: bool
    max_tokens: int | None


def sampling_request(body: Mapping[str, Any], faults: ServerFaults) -> Sampling:
    """Sampling parameters, whether logprobs were asked for, and max_tokens."""

    def number(name: str, default: float, low: float, high: float) -> float:
        value = body.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RequestError(f"'{name}' must be a number", param=name)
        if not low <= value <= high:
            raise RequestError(f"'{name}' must be in [{low}, {high}], not {value}", param=name)
        return float(value)

    def integer(name: str, low: int) -> int | None:
        value = body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise RequestError(f"'{name}' must be an integer >= {low}", param=name)
        return value

    if body.get("stream"):
        raise RequestError("streaming is not supported by the reference server", param="stream")
    n = integer("n", 1)
    if n not in (None, 1):
        raise RequestError("only n=1 is supported", param="n")
    logprobs = body.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool):
        raise RequestError("'logprobs' must be a boolean", param="logprobs")
    top_logprobs = integer("top_logprobs", 0)
    if top_logprobs is not None and top_logprobs > MAX_TOP_LOGPROBS:
        raise RequestError(
            f"'top_logprobs' must be at most {MAX_TOP_LOGPROBS}", param="top_logprobs"
        )
    if null_top_logprobs(body) and logprobs and not faults.accepts_null_top_logprobs:
        raise RequestError(
            "'top_logprobs' is null while 'logprobs' is true; give an integer (0 for none) "
            "or the token log-probs and ids cannot be returned",
            param="top_logprobs",
        )
    max_tokens = integer("max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = integer("max_tokens", 1)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RequestError("'seed' must be an integer", param="seed")
    params = SamplingParams(
        max_tokens=max_tokens or 0,
        temperature=number("temperature", 1.0, 0.0, 2.0),
        top_p=number("top_p", 1.0, 1e-9, 1.0),
        seed=seed % 2**63 if seed is not None else None,
        top_logprobs=top_logprobs or 0,
    )
    return Sampling(params, bool(logprobs), max_tokens)


def null_top_logprobs(body: Mapping[str, Any]) -> bool:
    """``top_logprobs: null`` given explicitly (the classic trap of DESIGN.md section 3)."""
    return "top_logprobs" in body and body["top_logprobs"] is None


def tool_names_for(
    body: Mapping[str, Any], tools: list[dict[str, Any]] | None
) -> tuple[tuple[str, ...] | None, bool]:
    """The tools the output is constrained to (or ``None``) and whether to parse calls."""
    choice = body.get("tool_choice")
    names = tuple(t["function"]["name"] for t in tools or [])
    if choice is None or choice == "auto":
        return None, bool(names)
    if choice == "none":
        return None, False
    if choice == "required":
        if not names:
            raise RequestError("tool_choice 'required' needs tools", param="tool_choice")
        return names, True
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        if name not in names:
            raise RequestError(f"tool_choice names unknown tool {name!r}", param="tool_choice")
        return (str(name),), True
    raise RequestError(f"unsupported tool_choice {choice!r}", param="tool_choice")


async def json_body(request: Request) -> Mapping[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        raise RequestError("the request body is not valid JSON") from None
    if not isinstance(body, Mapping):
        raise RequestError("the request body must be a JSON object")
    return body
