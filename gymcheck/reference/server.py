"""The reference OpenAI-compatible model server: FastAPI over a Hugging Face causal LM on the CPU.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /tokenize``, ``GET /health``.
Token information comes back in contract forms 1 and 2 at once (DESIGN.md section 3), and as
``token_id:<id>`` strings in ``logprobs.content`` when asked. Earlier assistant turns sent back
with their token ids are spliced into the prompt exactly (NeMo RL's prefix splicing).
Generation runs in a worker thread behind a lock, so the event loop stays responsive.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gymcheck.reference.faults import Fault
from gymcheck.reference.generation import Engine, Generation, SamplingParams
from gymcheck.reference.splicing import (
    SplicingError,
    replace_prefix_tokens,
    required_prefix,
    strip_token_fields,
)
from gymcheck.reference.toolcalls import parse_assistant_text
from gymcheck.tokeninfo import TOKEN_ID_PREFIX

ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
MAX_TOP_LOGPROBS = 20


class RequestError(Exception):
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


class ReferenceServer:
    """Request handling over one ``Engine``; the FastAPI routes are thin wrappers."""

    def __init__(
        self, engine: Engine, *, served_model_name: str, fault: Fault | None, max_model_len: int
    ) -> None:
        self.engine = engine
        self.served_model_name = served_model_name
        self.fault = fault
        self.max_model_len = max_model_len
        self.created = int(time.time())

    # --- prompts -------------------------------------------------------------------------

    def prompt_ids(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> list[int]:
        """The chat template's render with the generation prompt, earlier ids spliced in."""
        clean = [strip_token_fields(m) for m in messages]
        try:
            rendered = self.engine.render(clean, tools, add_generation_prompt=True)
        except Exception as exc:  # a template that cannot render these messages
            raise RequestError(f"cannot apply the chat template: {exc}", param="messages") from exc
        prefix = required_prefix(messages)
        if prefix is None:
            return rendered
        index, model_ids = prefix
        template_prefix = self.engine.render(clean[: index + 1], tools, add_generation_prompt=False)
        try:
            return replace_prefix_tokens(
                eos_token_id=self.engine.eos_token_id,
                model_prefix_ids=model_ids,
                template_prefix_ids=template_prefix,
                template_ids=rendered,
            )
        except SplicingError as exc:
            raise RequestError(f"cannot splice earlier token ids: {exc}", param="messages") from exc

    def check_model(self, body: Mapping[str, Any], *, required: bool) -> None:
        model = body.get("model")
        if model is None and not required:
            return
        if model != self.served_model_name:
            raise RequestError(
                f"The model `{model}` does not exist.",
                param="model",
                status=404,
                error_type="NotFoundError",
            )

    def check_length(self, prompt_len: int, max_tokens: int | None) -> int:
        if prompt_len >= self.max_model_len:
            raise RequestError(
                f"This model's maximum context length is {self.max_model_len} tokens. However, "
                f"your request has {prompt_len} input tokens. Please reduce the length of the "
                "input messages.",
                param="messages",
            )
        room = self.max_model_len - prompt_len
        if max_tokens is None:
            return room
        if max_tokens > room:
            raise RequestError(
                f"This model's maximum context length is {self.max_model_len} tokens. However, "
                f"you requested {prompt_len + max_tokens} tokens ({prompt_len} in the messages, "
                f"{max_tokens} in the completion). Please reduce the length of the messages or "
                "completion.",
                param="max_tokens",
            )
        return max_tokens

    # --- /v1/chat/completions -----------------------------------------------------------

    def sampling_params(self, body: Mapping[str, Any]) -> tuple[SamplingParams, bool, int | None]:
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
        null_top = "top_logprobs" in body and body["top_logprobs"] is None
        if null_top and logprobs and self.fault is not Fault.TOP_LOGPROBS_NULL:
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
        return params, bool(logprobs), max_tokens

    def tool_names_for(
        self, body: Mapping[str, Any], tools: list[dict[str, Any]] | None
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

    async def chat_completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.check_model(body, required=True)
        messages = normalize_messages(body.get("messages"), self.engine.vocab_size)
        tools = normalize_tools(body.get("tools"))
        params, want_logprobs, max_tokens = self.sampling_params(body)
        constrain_to, parse_tools = self.tool_names_for(body, tools)
        prompt = self.prompt_ids(messages, tools)
        budget = self.check_length(len(prompt), max_tokens)
        params = SamplingParams(
            max_tokens=budget,
            temperature=params.temperature,
            top_p=params.top_p,
            seed=params.seed,
            top_logprobs=params.top_logprobs,
            tool_names=constrain_to,
        )
        generation = await run_in_threadpool(self.engine.generate, prompt, params)
        return self.completion_body(
            body, prompt, generation, want_logprobs=want_logprobs, parse_tools=parse_tools
        )

    def completion_body(
        self,
        body: Mapping[str, Any],
        prompt: list[int],
        generation: Generation,
        *,
        want_logprobs: bool,
        parse_tools: bool,
    ) -> dict[str, Any]:
        ids = generation.token_ids
        text_ids = ids[:-1] if ids and ids[-1] in self.engine.eos_token_ids else ids
        parsed = parse_assistant_text(self.engine.decode(text_ids), parse_tools=parse_tools)
        finish = generation.finish_reason
        if parsed.tool_calls and finish == "stop":
            finish = "tool_calls"
        message: dict[str, Any] = {
            "role": "assistant",
            "content": parsed.content if parsed.content or not parsed.tool_calls else None,
            "reasoning_content": parsed.reasoning,
            "tool_calls": parsed.tool_calls,
        }
        logprobs = list(generation.logprobs)
        if self.fault is Fault.BAD_LOGPROBS:
            logprobs = logprobs[:-1]
        null_top = "top_logprobs" in body and body["top_logprobs"] is None
        drop_ids = self.fault is Fault.DROP_TOKEN_IDS or (
            self.fault is Fault.TOP_LOGPROBS_NULL and null_top
        )
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": finish,
            "stop_reason": None,
        }
        completion: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.served_model_name,
            "choices": [choice],
            "usage": {
                "prompt_tokens": len(prompt),
                "completion_tokens": len(ids),
                "total_tokens": len(prompt) + len(ids),
            },
        }
        if drop_ids:
            return completion
        # Form 1: NeMo RL's message fields.
        message["prompt_token_ids"] = prompt
        message["generation_token_ids"] = ids
        message["generation_log_probs"] = logprobs
        # Form 2: vLLM's return_token_ids.
        if body.get("return_token_ids"):
            completion["prompt_token_ids"] = prompt
            choice["token_ids"] = ids
        if want_logprobs:
            choice["logprobs"] = {"content": self._logprob_entries(body, ids, logprobs, generation)}
        return completion

    def _logprob_entries(
        self,
        body: Mapping[str, Any],
        ids: list[int],
        logprobs: list[float],
        generation: Generation,
    ) -> list[dict[str, Any]]:
        as_ids = bool(body.get("return_tokens_as_token_ids"))

        def token_text(token: int) -> str:
            if as_ids:
                return f"{TOKEN_ID_PREFIX}{token}"
            return self.engine.decode([token])

        entries = []
        for position, (token, logprob) in enumerate(zip(ids, logprobs, strict=False)):
            text = token_text(token)
            top = generation.top_logprobs[position] if generation.top_logprobs else []
            entries.append(
                {
                    "token": text,
                    "logprob": logprob,
                    "bytes": list(text.encode("utf-8")),
                    "top_logprobs": [
                        {"token": token_text(t), "logprob": lp, "bytes": None} for t, lp in top
                    ],
                }
            )
        return entries

    # --- /tokenize ----------------------------------------------------------------------

    def tokenize(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.check_model(body, required=False)
        if "messages" in body:
            messages = normalize_messages(body.get("messages"), self.engine.vocab_size)
            tools = normalize_tools(body.get("tools"))
            tokens = self.prompt_ids(messages, tools)
        elif isinstance(body.get("prompt"), str):
            tokens = self.engine.encode(body["prompt"])
        else:
            raise RequestError("give 'messages' or a string 'prompt'", param="messages")
        return {
            "tokens": tokens,
            "count": len(tokens),
            "max_model_len": self.max_model_len,
            "token_strs": None,
        }

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": self.served_model_name,
                    "object": "model",
                    "created": self.created,
                    "owned_by": "gymcheck",
                    "root": str(self.engine.model_dir),
                    "max_model_len": self.max_model_len,
                }
            ],
        }


async def _json_body(request: Request) -> Mapping[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        raise RequestError("the request body is not valid JSON") from None
    if not isinstance(body, Mapping):
        raise RequestError("the request body must be a JSON object")
    return body


def create_app(
    model_dir: Path,
    *,
    served_model_name: str = "gymcheck-tiny",
    fault: Fault | None = None,
    max_model_len: int = 2048,
) -> FastAPI:
    """The reference server's ASGI app over the model and tokenizer in ``model_dir``.

    ``fault`` plants one server-side integration bug (``drop-token-ids``, ``bad-logprobs``,
    ``top-logprobs-null``); ``None`` serves a healthy endpoint.
    """
    server = ReferenceServer(
        Engine(Path(model_dir)),
        served_model_name=served_model_name,
        fault=fault,
        max_model_len=max_model_len,
    )
    app = FastAPI(title="gymcheck reference model server")
    app.state.reference = server

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return exc.response()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return server.models()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> dict[str, Any]:
        return await server.chat_completion(await _json_body(request))

    @app.post("/tokenize")
    async def tokenize(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        return await run_in_threadpool(server.tokenize, body)

    return app
