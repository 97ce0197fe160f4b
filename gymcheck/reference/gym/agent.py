"""The agent: ``POST /run`` plays one episode and returns NeMo Gym's rollout record.

It does what NeMo Gym's ``simple_agent`` and ``vllm_model`` (``return_token_id_information``)
do together:
- ``/run``: ``/seed_session`` on the resource server, the episode, then ``/verify``, whose
  answer (the task row + ``response`` + ``reward``) is the record;
- the episode: the history (Responses-API items) becomes chat messages, each earlier assistant
  turn carrying its ``prompt_token_ids``, ``generation_token_ids`` and
  ``generation_log_probs``, so a NeMo RL server splices the exact earlier tokens into the new
  prompt; every request asks for token information (``GYM_TOKEN_REQUEST_PARAMS``);
- each completion becomes output items (``reasoning``, ``message``, ``function_call``), the last
  of which carries the call's token fields, read in Gym's order of preference (form 3 asks
  ``/tokenize`` for the prompt ids); each tool call is ``POST {resources}/{tool name}``, and
  its answer becomes a ``function_call_output``; the loop ends on a plain answer, on
  ``max_output_tokens``, or after ``max_steps`` model calls.

The conversion between Responses-API items and chat messages (and the agent-layer faults)
lives in ``messages``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

from gymcheck.errors import GymcheckError
from gymcheck.openai_client import EndpointCallError, OpenAIClient
from gymcheck.redact import clip
from gymcheck.reference.faults import Fault
from gymcheck.reference.gym.messages import (
    Item,
    Message,
    chat_tool_choice,
    chat_tools,
    completion_items,
    input_items,
    to_chat_messages,
)
from gymcheck.tokeninfo import GYM_TOKEN_REQUEST_PARAMS, TokenInfo, extract_token_info

JsonBody = Annotated[dict[str, Any], Body()]


@dataclass(slots=True)
class AgentConfig:
    name: str
    resources_url: str
    model_base_url: str
    model: str | None = None
    """``None``: ask the endpoint's ``/v1/models`` at each run."""
    api_key: str | None = field(default=None, repr=False)
    max_steps: int = 3
    fault: Fault | None = None
    timeout: float = 60.0


class AgentError(GymcheckError):
    """An episode that could not be played; ``/run`` answers 502 with the message and cause."""

    def __init__(self, message: str, *, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


# --- the episode ---------------------------------------------------------------------------


class Agent:
    """One agent instance: its config, and the episode loop."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config

    def chat_request(
        self, params: Mapping[str, Any], messages: list[Message], model: str, seed: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": messages}
        tools = chat_tools(params.get("tools"))
        if tools:
            body["tools"] = tools
            if params.get("tool_choice") is not None:
                body["tool_choice"] = chat_tool_choice(params["tool_choice"])
        if params.get("max_output_tokens") is not None:
            body["max_tokens"] = params["max_output_tokens"]
        for key in ("temperature", "top_p"):
            if params.get(key) is not None:
                body[key] = params[key]
        if seed is not None:
            body["seed"] = seed
        return body | GYM_TOKEN_REQUEST_PARAMS

    def _model_name(self, client: OpenAIClient) -> str:
        if self.config.model:
            return self.config.model
        try:
            return str(client.models()["data"][0]["id"])
        except EndpointCallError:
            raise
        except (KeyError, IndexError, TypeError) as exc:
            raise AgentError("the endpoint's /v1/models lists no model", cause="no_model") from exc

    def responses(
        self,
        params: Mapping[str, Any],
        *,
        seed: int | None = None,
        resources: httpx.Client | None = None,
    ) -> dict[str, Any]:
        """Play the episode of one Responses-API request; the Responses-API object."""
        history = input_items(params)
        outputs: list[Item] = []
        incomplete: dict[str, Any] | None = None
        usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        with OpenAIClient(
            self.config.model_base_url, api_key=self.config.api_key, timeout=self.config.timeout
        ) as client:
            model = self._model_name(client)
            for step in range(1, max(1, self.config.max_steps) + 1):
                messages = to_chat_messages(history + outputs, fault=self.config.fault)
                call_seed = None if seed is None else seed * 1000 + step
                body = self.chat_request(params, messages, model, call_seed)
                completion = client.chat(body)
                choice = _first_choice(completion)
                items = completion_items(choice.get("message") or {})
                info = extract_token_info(completion)
                if info is not None:
                    if not items:  # an empty generation still carries its token fields
                        items.append(completion_items({"content": " "})[0] | {"content": []})
                    items[-1].update(self._token_fields(client, info, body))
                outputs.extend(items)
                _add_usage(usage, completion)
                if choice.get("finish_reason") == "length":
                    incomplete = {"reason": "max_output_tokens"}
                    break
                calls = [item for item in items if item["type"] == "function_call"]
                for call in calls:
                    outputs.append(self._call_tool(call, resources))
                if not calls and any(item["type"] == "message" for item in items):
                    break
        return _response_object(params, model, outputs, incomplete, usage)

    def _token_fields(
        self, client: OpenAIClient, info: TokenInfo, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        prompt_ids = info.prompt_token_ids
        if prompt_ids is None:  # form 3: the prompt ids come from /tokenize
            request = {k: body[k] for k in ("model", "messages", "tools") if k in body}
            tokenized = client.tokenize(request)
            tokens = tokenized.get("tokens") if isinstance(tokenized, Mapping) else None
            if not isinstance(tokens, list):
                raise AgentError("/tokenize answered without 'tokens'", cause="invalid_json")
            prompt_ids = tokens
        return {
            "prompt_token_ids": list(prompt_ids),
            "generation_token_ids": list(info.generation_token_ids),
            "generation_log_probs": list(info.generation_log_probs),
        }

    def _call_tool(self, call: Mapping[str, Any], resources: httpx.Client | None) -> Item:
        output = self._tool_output(call, resources)
        return {
            "call_id": call["call_id"],
            "output": output,
            "type": "function_call_output",
            "id": None,
            "status": None,
        }

    def _tool_output(self, call: Mapping[str, Any], resources: httpx.Client | None) -> str:
        try:
            arguments = json.loads(call.get("arguments") or "")
        except ValueError as exc:
            # A model's malformed call is a valid outcome of the episode, not an agent failure.
            return json.dumps({"error": f"arguments are not valid JSON: {exc}"})
        if resources is None:
            return json.dumps({"error": "no resources server"})
        try:
            answer = resources.post(f"/{call.get('name')}", json=arguments)
        except httpx.HTTPError as exc:
            raise AgentError(
                f"resources server unreachable for tool {call.get('name')!r}: {exc}",
                cause="resources_unreachable",
            ) from exc
        # Any status is a valid tool answer (an unknown tool, bad arguments), as in NeMo Gym.
        return answer.text

    # --- /run --------------------------------------------------------------------------------

    def run(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Seed the session, play the episode, verify: the rollout record."""
        params = row.get("responses_create_params")
        if not isinstance(params, Mapping):
            raise AgentError("the row has no 'responses_create_params' object", cause="bad_row")
        seed = row.get("seed") if isinstance(row.get("seed"), int) else None
        with httpx.Client(
            base_url=self.config.resources_url,
            timeout=httpx.Timeout(self.config.timeout, connect=min(self.config.timeout, 10.0)),
        ) as resources:
            _post_ok(resources, "/seed_session", dict(row))
            response = self.responses(params, seed=seed, resources=resources)
            verified = _post_ok(resources, "/verify", {**row, "response": response})
        if not isinstance(verified, dict):
            raise AgentError("/verify answered with no JSON object", cause="invalid_json")
        return verified


def _post_ok(client: httpx.Client, path: str, body: Mapping[str, Any]) -> Any:
    try:
        answer = client.post(path, json=body)
    except httpx.HTTPError as exc:
        raise AgentError(f"resources server {path}: {exc}", cause="resources_unreachable") from exc
    if not answer.is_success:
        raise AgentError(
            f"resources server {path} answered HTTP {answer.status_code}: {clip(answer.text, 200)}",
            cause="resources_http_status",
        )
    try:
        return answer.json()
    except ValueError as exc:
        raise AgentError(
            f"resources server {path} answered invalid JSON", cause="invalid_json"
        ) from exc


def _first_choice(completion: Any) -> Mapping[str, Any]:
    choices = completion.get("choices") if isinstance(completion, Mapping) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise AgentError("the chat completion has no choices", cause="invalid_completion")
    return choices[0]


def _add_usage(usage: dict[str, int], completion: Mapping[str, Any]) -> None:
    reported = completion.get("usage")
    if not isinstance(reported, Mapping):
        return
    prompt, generated = reported.get("prompt_tokens"), reported.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(generated, int):
        usage["input_tokens"] += prompt
        usage["output_tokens"] += generated
        usage["total_tokens"] += prompt + generated


def _response_object(
    params: Mapping[str, Any],
    model: str,
    outputs: list[Item],
    incomplete: dict[str, Any] | None,
    usage: dict[str, int],
) -> dict[str, Any]:
    return {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response",
        "created_at": float(int(time.time())),
        "model": model,
        "status": "incomplete" if incomplete else "completed",
        "error": None,
        "incomplete_details": incomplete,
        "instructions": params.get("instructions"),
        "metadata": params.get("metadata"),
        "output": outputs,
        "parallel_tool_calls": params.get("parallel_tool_calls", True),
        "temperature": params.get("temperature"),
        "top_p": params.get("top_p"),
        "tool_choice": params.get("tool_choice", "auto"),
        "tools": list(params.get("tools") or []),
        "max_output_tokens": params.get("max_output_tokens"),
        "usage": usage,
    }


# --- the app -------------------------------------------------------------------------------


def create_agent_app(config: AgentConfig) -> FastAPI:
    """``POST /run`` (a task row in, a rollout record out), ``POST /v1/responses``, ``/health``."""
    agent = Agent(config)
    app = FastAPI(title=config.name)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # Plain ``def`` routes: the episode blocks on HTTP, so FastAPI runs it in its thread pool
    # and rollouts proceed concurrently.
    @app.post("/run")
    def run(row: JsonBody) -> Any:
        return _answer(lambda: agent.run(row))

    @app.post("/v1/responses")
    def responses(params: JsonBody) -> Any:
        return _answer(lambda: agent.responses(params))

    return app


def _answer(play: Any) -> Any:
    try:
        return play()
    except AgentError as exc:
        status = 422 if exc.cause == "bad_row" else 502
        return JSONResponse({"error": {"message": str(exc), "cause": exc.cause}}, status)
    except EndpointCallError as exc:
        return JSONResponse(
            {"error": {"message": f"model endpoint: {exc}", "cause": exc.cause}}, 502
        )
