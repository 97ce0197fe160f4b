"""Rollout collection through a NeMo Gym deployment's HTTP contract.

The head server's ``GET /server_instances`` says where each server lives; one rollout is
``POST {url}/run`` with the task row as the body, and the answer is the rollout record. Which
server gets a row follows NeMo Gym 0.7.0's rules (``gymcheck.gym_routing``). This works the same
against the embedded stack and a real ``gym env start``.

A rollout that fails (timeout, HTTP error, invalid JSON, unreachable) becomes a
``rollout_failed`` finding; the others are still collected.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from gymcheck.deadline import Answer, DeadlineExceeded, ResponseTooLarge, exchange, new_client
from gymcheck.errors import GymcheckError, UsageError
from gymcheck.gym_routing import GymDirectory, RoutingError, parse_instances, stamp_indices
from gymcheck.progress import Progress
from gymcheck.redact import add_url, clip
from gymcheck.report import Finding

ROLLOUT_FAILED = "rollout_failed"
DISCOVERY_TIMEOUT_S = 10.0
MAX_ROLLOUT_BYTES = 64 << 20
"""The largest /run answer read: a rollout line as large as the scan's line-size cap."""


@dataclass(slots=True)
class Collection:
    """What collecting through a Gym head server gave: rollout records and findings."""

    records: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    agents: dict[str, str] = field(default_factory=dict)
    """Agent instance name -> url, as the head server listed them."""
    elapsed_s: float = 0.0


class _Failure(GymcheckError):
    """A rollout that could not be collected, with its cause."""

    def __init__(self, cause: str, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        self.status_code = status_code


def _exchange(
    client: httpx.Client, method: str, url: str, deadline_s: float, content: bytes | None = None
) -> Answer:
    """One exchange within a total deadline and the rollout size cap, or a ``_Failure``."""
    try:
        return exchange(
            client,
            method,
            url,
            deadline_s=deadline_s,
            max_bytes=MAX_ROLLOUT_BYTES,
            content=content,
            headers=_JSON_HEADERS if content is not None else None,
        )
    except DeadlineExceeded as exc:
        raise _Failure("timeout", f"{method} {url} timed out ({exc})") from exc
    except ResponseTooLarge as exc:
        raise _Failure("too_large", f"{method} {url}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise _Failure("unreachable", f"cannot reach {url} ({type(exc).__name__}: {exc})") from exc


def _get_json(client: httpx.Client, url: str, deadline_s: float = DISCOVERY_TIMEOUT_S) -> Any:
    return _decode(_exchange(client, "GET", url, deadline_s), f"GET {url}")


def _decode(answer: Answer, what: str) -> Any:
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
            "invalid_json", f"{what} answered invalid JSON: {clip(answer.text, 120)!r}"
        ) from exc


def _error_text(answer: Answer) -> str:
    try:
        body = orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        return clip(answer.text, 300)
    error = body.get("error", body) if isinstance(body, Mapping) else body
    if isinstance(error, Mapping) and "message" in error:
        return clip(str(error["message"]), 300)
    if isinstance(body, Mapping) and "detail" in body:
        return clip(str(body["detail"]), 300)
    return clip(str(error), 300)


def discover(client: httpx.Client, gym_url: str) -> GymDirectory:
    """The deployment's servers (``/server_instances``) and its config, when the head serves it."""
    root = gym_url.rstrip("/")
    try:
        instances = parse_instances(_get_json(client, root + "/server_instances"))
    except ValueError as exc:
        raise _Failure("invalid_json", str(exc)) from exc
    return GymDirectory(instances, _global_config(client, root))


def _global_config(client: httpx.Client, root: str) -> Mapping[str, Any] | None:
    """Gym's merged config: a JSON string of YAML. ``None`` from a head server without one."""
    try:
        text = _get_json(client, root + "/global_config_dict_yaml")
    except _Failure:
        return None
    import yaml

    try:
        config = yaml.safe_load(text) if isinstance(text, str) else None
    except yaml.YAMLError:
        return None
    return config if isinstance(config, Mapping) else None


def _run_one(
    client: httpx.Client, agent_url: str, row: Mapping[str, Any], deadline_s: float
) -> dict[str, Any]:
    url = agent_url + "/run"
    answer = _exchange(client, "POST", url, deadline_s, orjson.dumps(row))
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
    "too_large": "the agent's answer is over the size cap: a runaway generation (check the model "
    "server honours max_tokens) or an agent that returns more than one rollout",
    "agent_not_found": "pass --agent with one of the listed agent instances, or set agent_ref "
    "(or task_source) in the rows",
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

    ``agent`` (an agent's instance name, or its implementation name when unambiguous) routes
    every row, as ``gym eval run --agent`` does; otherwise each row's ``agent_ref.name`` or
    ``task_source`` does. Records keep the rows' order; failures become findings.
    """
    started = time.perf_counter()
    collection = Collection()
    total = len(rows)
    if progress is not None:
        progress(0, total)
    add_url(gym_url)
    with new_client() as client:
        try:
            directory = discover(client, gym_url)
        except _Failure as failure:
            source = gym_url.rstrip("/") + "/server_instances"
            collection.findings = [_failed(i, failure, source) for i in range(total)]
            if progress is not None:
                progress(total, total)
            collection.elapsed_s = time.perf_counter() - started
            return collection
        collection.agents = {a.instance: a.url for a in directory.agents if a.url is not None}
        stamped = stamp_indices(rows)
        results: list[dict[str, Any] | Finding | None] = [None] * total

        def one(index: int) -> dict[str, Any] | Finding:
            source = gym_url.rstrip("/") + "/server_instances"
            try:
                route = directory.route(stamped[index], agent)
            except RoutingError as exc:
                return _failed(index, _Failure("agent_not_found", str(exc)), source)
            try:
                return _run_one(client, route.url, route.body, timeout)
            except _Failure as failure:
                return _failed(index, failure, route.url + "/run")

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
