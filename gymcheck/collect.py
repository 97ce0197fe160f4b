"""Rollout collection through a NeMo Gym deployment's HTTP contract.

The head server's ``GET /server_instances`` says where each agent lives; one rollout is
``POST {agent url}/run`` with the task row as the body, and the answer is the rollout record.
This works the same against the embedded stack and a real ``gym env start``.

A rollout that fails (timeout, HTTP error, invalid JSON, unreachable) becomes a
``rollout_failed`` finding; the others are still collected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from gymcheck.errors import UsageError
from gymcheck.report import Finding

ROLLOUT_FAILED = "rollout_failed"
AGENT_SERVER_TYPE = "responses_api_agents"
DISCOVERY_TIMEOUT_S = 10.0

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called as each rollout finishes."""


@dataclass(slots=True)
class Collection:
    records: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    agents: dict[str, str] = field(default_factory=dict)
    """Agent name -> url, as the head server listed them."""
    elapsed_s: float = 0.0


class _Failure(Exception):
    def __init__(self, cause: str, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        self.status_code = status_code


def _get_json(client: httpx.Client, url: str) -> Any:
    try:
        answer = client.get(url)
    except httpx.TimeoutException as exc:
        raise _Failure("timeout", f"GET {url} timed out") from exc
    except httpx.HTTPError as exc:
        raise _Failure("unreachable", f"cannot reach {url} ({type(exc).__name__}: {exc})") from exc
    return _decode(answer, f"GET {url}")


def _decode(answer: httpx.Response, what: str) -> Any:
    if not answer.is_success:
        raise _Failure(
            "http_status",
            f"{what} answered HTTP {answer.status_code}: {_error_text(answer)}",
            answer.status_code,
        )
    try:
        return orjson.loads(answer.content)
    except orjson.JSONDecodeError as exc:
        raise _Failure(
            "invalid_json", f"{what} answered invalid JSON: {answer.text[:120]!r}"
        ) from exc


def _error_text(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300]
    error = body.get("error", body) if isinstance(body, Mapping) else body
    if isinstance(error, Mapping) and "message" in error:
        return str(error["message"])[:300]
    if isinstance(body, Mapping) and "detail" in body:
        return str(body["detail"])[:300]
    return str(error)[:300]


def discover_agents(client: httpx.Client, gym_url: str) -> dict[str, str]:
    """Agent name -> url from the head server's ``/server_instances``."""
    listing = _get_json(client, gym_url.rstrip("/") + "/server_instances")
    if isinstance(listing, Mapping):  # tolerate {"server_instances": [...]} or {name: {...}}
        listing = listing.get("server_instances", list(listing.values()))
    if not isinstance(listing, list):
        raise _Failure("invalid_json", "/server_instances did not answer with a list")
    agents: dict[str, str] = {}
    for instance in listing:
        if not isinstance(instance, Mapping) or instance.get("server_type") != AGENT_SERVER_TYPE:
            continue
        url = instance.get("url") or _url_of(instance)
        name = instance.get("name") or instance.get("process_name")
        if isinstance(name, str) and isinstance(url, str):
            agents[name] = url.rstrip("/")
    return agents


def _url_of(instance: Mapping[str, Any]) -> str | None:
    host, port = instance.get("host"), instance.get("port")
    return f"http://{host}:{port}" if host and port else None


def _agent_for(row: Mapping[str, Any], agent: str | None, agents: Mapping[str, str]) -> str:
    ref = row.get("agent_ref")
    name = agent or (ref.get("name") if isinstance(ref, Mapping) else None)
    if name is None:
        if len(agents) == 1:
            return next(iter(agents.values()))
        known = ", ".join(sorted(agents)) or "none"
        raise _Failure(
            "agent_not_found", f"the row has no agent_ref; pass --agent NAME (agents: {known})"
        )
    if name not in agents:
        known = ", ".join(sorted(agents)) or "none"
        raise _Failure(
            "agent_not_found", f"the head server lists no agent {name!r} (agents: {known})"
        )
    return agents[name]


def _run_one(client: httpx.Client, agent_url: str, row: Mapping[str, Any]) -> dict[str, Any]:
    url = agent_url + "/run"
    try:
        answer = client.post(url, content=orjson.dumps(row), headers=_JSON_HEADERS)
    except httpx.TimeoutException as exc:
        raise _Failure("timeout", f"POST {url} timed out ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise _Failure("unreachable", f"cannot reach {url} ({type(exc).__name__}: {exc})") from exc
    record = _decode(answer, f"POST {url}")
    if not isinstance(record, dict):
        raise _Failure("invalid_json", f"POST {url} answered a JSON {type(record).__name__}")
    return record


_JSON_HEADERS = {"Content-Type": "application/json"}


def _failed(index: int, failure: _Failure, source: str) -> Finding:
    details: dict[str, Any] = {}
    if failure.status_code is not None:
        details["status_code"] = failure.status_code
    return Finding(
        code=ROLLOUT_FAILED,
        message=f"rollout {index} failed ({failure.cause}): {failure}",
        source=source,
        rollout_index=index,
        cause=failure.cause,
        details={"cause": failure.cause, **details},
        fix=_FIXES.get(failure.cause),
    )


_FIXES = {
    "timeout": "the agent did not answer in time: raise the timeout or check the model server",
    "unreachable": "start the Gym servers (`gym env start ...`) and check --gym-url",
    "http_status": "the agent failed the episode: see the message and the agent's log",
    "invalid_json": "the agent answered something that is not a rollout record",
    "agent_not_found": "pass --agent with one of the listed agents, or set agent_ref in rows",
}


def collect_rollouts(
    gym_url: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    agent: str | None = None,
    concurrency: int = 4,
    timeout: float = 120.0,
    progress: Progress | None = None,
) -> Collection:
    """Run each task row through its agent's ``/run``, ``concurrency`` at a time.

    ``agent`` names the agent for every row; otherwise each row's ``agent_ref.name`` does, or
    the only agent there is. Records keep the rows' order; failures become findings.
    """
    started = time.perf_counter()
    collection = Collection()
    total = len(rows)
    if progress is not None:
        progress(0, total)
    timeouts = httpx.Timeout(timeout, connect=min(timeout, 10.0))
    with httpx.Client(timeout=timeouts) as client:
        try:
            with httpx.Client(timeout=min(timeout, DISCOVERY_TIMEOUT_S)) as head:
                collection.agents = discover_agents(head, gym_url)
        except _Failure as failure:
            source = gym_url.rstrip("/") + "/server_instances"
            collection.findings = [_failed(i, failure, source) for i in range(total)]
            if progress is not None:
                progress(total, total)
            collection.elapsed_s = time.perf_counter() - started
            return collection
        results: list[dict[str, Any] | Finding | None] = [None] * total

        def one(index: int) -> dict[str, Any] | Finding:
            row = rows[index]
            agent_url = gym_url
            try:
                agent_url = _agent_for(row, agent, collection.agents)
                return _run_one(client, agent_url, row)
            except _Failure as failure:
                return _failed(index, failure, agent_url.rstrip("/") + "/run")

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = {pool.submit(one, i): i for i in range(total)}
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(done, total)
    for result in results:
        if isinstance(result, Finding):
            collection.findings.append(result)
        elif result is not None:
            collection.records.append(result)
    collection.elapsed_s = time.perf_counter() - started
    return collection


def load_task_rows(path: str | Path) -> list[dict[str, Any]]:
    """The task rows of a NeMo Gym input JSONL; ``UsageError`` names the first bad line."""
    from gymcheck.jsonl import iter_values

    rows: list[dict[str, Any]] = []
    try:
        for number, row, problem in iter_values(path):
            if problem is not None:
                raise UsageError(f"{path} line {number}: {problem}")
            if not isinstance(row, dict) or not isinstance(
                row.get("responses_create_params"), Mapping
            ):
                raise UsageError(
                    f"{path} line {number}: a task row is a JSON object with "
                    "'responses_create_params'"
                )
            rows.append(row)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not rows:
        raise UsageError(f"{path} holds no task rows")
    return rows
