"""The reference server's request handling over one ``Engine``, and its FastAPI app.

Earlier assistant turns sent back with their token ids are spliced into the prompt exactly
(NeMo RL's prefix splicing). Generation runs in a worker thread behind a lock, so the event
loop stays responsive.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gymcheck.reference.faults import Fault, ServerFaults
from gymcheck.reference.generation import Engine, SamplingParams
from gymcheck.reference.server.requests import (
    RequestError,
    check_length,
    check_model,
    json_body,
    normalize_messages,
    normalize_tools,
    required_prefix_ids,
    sampling_request,
    tool_names_for,
)
from gymcheck.reference.server.responses import completion_body, models_body, tokenize_body
from gymcheck.reference.splicing import (
    SplicingError,
    replace_prefix_tokens,
    required_prefix,
    strip_token_fields,
)
from gymcheck.reference.toolcalls import parse_assistant_text


class ReferenceServer:
    """Request handling over one ``Engine``; the FastAPI routes are thin wrappers."""

    def __init__(
        self, engine: Engine, *, served_model_name: str, fault: Fault | None, max_model_len: int
    ) -> None:
        self.engine = engine
        self.served_model_name = served_model_name
        self.faults = ServerFaults(fault)
        self.max_model_len = max_model_len
        self.created = int(time.time())

    def prompt_ids(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        required_ids: list[int] | None = None,
    ) -> list[int]:
        """The chat template's render with the generation prompt, earlier ids spliced in."""
        clean = [strip_token_fields(m) for m in messages]
        try:
            rendered = self.engine.render(clean, tools, add_generation_prompt=True)
        except Exception as exc:  # a template that cannot render these messages
            raise RequestError(f"cannot apply the chat template: {exc}", param="messages") from exc
        try:
            prefix = required_prefix(messages, required_ids)
            if prefix is None:
                return rendered
            index, model_ids = prefix
            template_prefix = self.engine.render(
                clean[: index + 1], tools, add_generation_prompt=False
            )
            return replace_prefix_tokens(
                eos_token_id=self.engine.eos_token_id,
                model_prefix_ids=model_ids,
                template_prefix_ids=template_prefix,
                template_ids=rendered,
            )
        except SplicingError as exc:
            raise RequestError(f"cannot splice earlier token ids: {exc}", param="messages") from exc

    async def chat_completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        check_model(body, self.served_model_name, required=True)
        messages = normalize_messages(body.get("messages"), self.engine.vocab_size)
        tools = normalize_tools(body.get("tools"))
        sampling = sampling_request(body, self.faults)
        constrain_to, parse_tools = tool_names_for(body, tools)
        prompt = self.prompt_ids(messages, tools, required_prefix_ids(body, self.engine.vocab_size))
        budget = check_length(len(prompt), sampling.max_tokens, self.max_model_len)
        requested = sampling.params
        params = SamplingParams(
            max_tokens=budget,
            temperature=self.faults.sampling_temperature(requested.temperature),
            top_p=requested.top_p,
            seed=requested.seed,
            top_logprobs=requested.top_logprobs,
            tool_names=constrain_to,
        )
        generation = await run_in_threadpool(self.engine.generate, prompt, params)
        ids = generation.token_ids
        text_ids = ids[:-1] if ids and ids[-1] in self.engine.eos_token_ids else ids
        parsed = parse_assistant_text(self.engine.decode(text_ids), parse_tools=parse_tools)
        return completion_body(
            body,
            model=self.served_model_name,
            prompt=prompt,
            generation=generation,
            parsed=parsed,
            decode=self.engine.decode,
            want_logprobs=sampling.logprobs,
            faults=self.faults,
        )

    def tokenize(self, body: Mapping[str, Any]) -> dict[str, Any]:
        check_model(body, self.served_model_name, required=False)
        if "messages" in body:
            messages = normalize_messages(body.get("messages"), self.engine.vocab_size)
            tools = normalize_tools(body.get("tools"))
            required = required_prefix_ids(body, self.engine.vocab_size)
            tokens = self.prompt_ids(messages, tools, required)
        elif isinstance(body.get("prompt"), str):
            tokens = self.engine.encode(body["prompt"])
        else:
            raise RequestError("give 'messages' or a string 'prompt'", param="messages")
        return tokenize_body(tokens, self.max_model_len)

    def models(self) -> dict[str, Any]:
        return models_body(
            self.served_model_name, self.created, str(self.engine.model_dir), self.max_model_len
        )


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
        return await server.chat_completion(await json_body(request))

    @app.post("/tokenize")
    async def tokenize(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        return await run_in_threadpool(server.tokenize, body)

    return app
