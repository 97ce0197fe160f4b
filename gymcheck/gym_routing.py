"""Which server a task row is POSTed to, by the rules of NeMo Gym 0.7.0's rollout collection.

The head server's ``GET /server_instances`` lists every server: ``process_name`` (equal to
``config_path``) is the instance name from the config, ``name`` is the implementation
(``simple_agent``, ``legacy_agent``...). ``GET /global_config_dict_yaml`` is the merged config
that Gym's own collection routes by. The rules (``nemo_gym/rollout_collection.py``,
``RolloutCollectionConfig`` and ``preprocess_examples``, ``resolve_task_sources``):

- ``--agent`` (Gym's ``+agent_name``, which is ``agent_map._default``) routes every row, over any
  ``agent_ref`` in the data; otherwise the row's ``agent_ref.name``; otherwise its
  ``task_source``, resolved through the config (``global_config.resolve_dataset_agent``); a row
  with none of them is an error.
- An agent is named by its instance name. gymcheck also accepts the implementation name when
  exactly one agent instance has it (Gym itself does not).
- The row goes to the one environment server that fronts the agent (Gym 0.7.0 generates a
  ``legacy_agent`` relay for an agent that has none); a head server without environment
  servers (older Gym, the embedded stack) gets the row at the agent's own ``/run``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from gymcheck.errors import GymAnswerError, GymcheckError

AGENTS = "responses_api_agents"
RESOURCES = "resources_servers"
ENVIRONMENTS = "environment_servers"
TASK_INDEX = "_ng_task_index"
ROLLOUT_INDEX = "_ng_rollout_index"


class RoutingError(GymcheckError):
    """A row that names no agent, or one the deployment does not have."""


@dataclass(frozen=True, slots=True)
class GymInstance:
    instance: str
    """The instance name from the config (``process_name`` / ``config_path``)."""
    implementation: str | None
    """The server's implementation (``name``)."""
    server_type: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Route:
    agent: str
    """The agent instance that runs the row."""
    url: str
    """Where the row is POSTed: ``{url}/run``."""
    body: dict[str, Any]


def parse_instances(listing: Any) -> list[GymInstance]:
    """The head server's ``/server_instances`` answer as instances; ``GymAnswerError`` (a
    ``ValueError``) if not a list."""
    if isinstance(listing, Mapping):  # tolerate {"server_instances": [...]} or {name: {...}}
        listing = listing.get("server_instances", list(listing.values()))
    if not isinstance(listing, list):
        raise GymAnswerError("/server_instances did not answer with a list")
    instances = []
    for entry in listing:
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("process_name") or entry.get("config_path") or entry.get("name")
        server_type = entry.get("server_type")
        if not isinstance(name, str) or not isinstance(server_type, str):
            continue
        implementation = entry.get("name")
        url = entry.get("url") or _url_of(entry)
        instances.append(
            GymInstance(
                instance=name,
                implementation=implementation if isinstance(implementation, str) else None,
                server_type=server_type,
                url=url.rstrip("/") if isinstance(url, str) else None,
            )
        )
    return instances


def _url_of(entry: Mapping[str, Any]) -> str | None:
    host, port = entry.get("host"), entry.get("port")
    return f"http://{host}:{port}" if host and port else None


class GymDirectory:
    """The servers of one deployment and the config that routes rows to them."""

    def __init__(
        self, instances: Sequence[GymInstance], config: Mapping[str, Any] | None = None
    ) -> None:
        self.instances = list(instances)
        self.config = config
        self._by_name = {i.instance: i for i in self.instances}
        self.agents = [i for i in self.instances if i.server_type == AGENTS]

    def route(self, row: Mapping[str, Any], agent: str | None = None) -> Route:
        """Where ``row`` goes; ``agent`` (``--agent``) overrides the row's own routing."""
        ref = row.get("agent_ref")
        ref_name = ref.get("name") if isinstance(ref, Mapping) else None
        task_source = row.get("task_source")
        if agent is not None:
            name = self.resolve_agent(agent)
        elif isinstance(ref_name, str):
            name = self.resolve_agent(ref_name)
        elif isinstance(task_source, str):
            name = self.resolve_task_source(task_source)
        else:
            raise RoutingError(
                "the row names no agent (no agent_ref, no task_source): pass --agent NAME "
                f"({self._agent_listing()})"
            )
        body = dict(row)
        if ref_name != name:  # Gym stamps the agent it routed to onto the row
            body["agent_ref"] = {"type": AGENTS, "name": name}
        return Route(agent=name, url=self._dispatch_url(name), body=body)

    def resolve_agent(self, name: str) -> str:
        """The agent instance ``name`` means: an instance name, or a unique implementation."""
        found = self._by_name.get(name)
        if found is not None and found.server_type == AGENTS:
            return name
        if found is not None:
            raise RoutingError(
                f"{name!r} is a {found.server_type} instance, not an agent "
                f"({self._agent_listing()})"
            )
        implementing = [a.instance for a in self.agents if a.implementation == name]
        if len(implementing) == 1:
            return implementing[0]
        if implementing:
            raise RoutingError(
                f"{name!r} is the implementation of {len(implementing)} agents "
                f"({', '.join(sorted(implementing))}): name the instance"
            )
        close = difflib.get_close_matches(name, [a.instance for a in self.agents], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RoutingError(
            f"the head server lists no agent {name!r}{hint} ({self._agent_listing()})"
        )

    def resolve_task_source(self, task_source: str) -> str:
        """The agent that runs a dataset declared by instance ``task_source``, as in Gym."""
        found = self._by_name.get(task_source)
        if found is not None and found.server_type == AGENTS:
            return task_source
        if self.config is None:
            raise RoutingError(
                f"task_source {task_source!r} names no agent, and the head server gives no config "
                "(/global_config_dict_yaml) to resolve it: pass --agent NAME "
                f"({self._agent_listing()})"
            )
        inner = _server_config(self.config, task_source)
        if inner is None or _server_type(self.config, task_source) != RESOURCES:
            raise RoutingError(
                f"task_source {task_source!r} is not an agent or resources server instance "
                f"of the running config ({self._agent_listing()})"
            )
        pins = list(dict.fromkeys(_dataset_pins(inner)))
        candidates = sorted(
            name
            for name in self.config
            if _server_type(self.config, name) == AGENTS
            and _ref_name(_server_config(self.config, name), "resources_server") == task_source
        )
        if len(pins) > 1:
            raise RoutingError(
                f"task_source {task_source!r}: its datasets pin conflicting agents ({pins}): "
                "pass --agent NAME"
            )
        if pins and pins[0] not in candidates:
            raise RoutingError(
                f"task_source {task_source!r}: its dataset pins agent {pins[0]!r}, which does not "
                f"reference it (agents that do: {', '.join(candidates) or 'none'})"
            )
        if pins:
            return pins[0]
        if len(candidates) != 1:
            raise RoutingError(
                f"task_source {task_source!r}: {len(candidates)} agents reference this resources "
                f"server ({', '.join(candidates) or 'none'}): pass --agent NAME"
            )
        return candidates[0]

    def _dispatch_url(self, agent: str) -> str:
        fronting = self._environment_servers_of(agent)
        if len(fronting) > 1:
            raise RoutingError(
                f"agent {agent!r} is fronted by several environment servers "
                f"({', '.join(sorted(fronting))}); rows that route by agent cannot choose"
            )
        target = self._by_name.get(fronting[0]) if fronting else self._by_name[agent]
        if target is None or target.url is None:
            raise RoutingError(
                f"the head server lists no url for {fronting[0] if fronting else agent!r}"
            )
        return target.url

    def _environment_servers_of(self, agent: str) -> list[str]:
        if self.config is None:
            return []
        fronting = []
        for name, block in self.config.items():
            servers = block.get(ENVIRONMENTS) if isinstance(block, Mapping) else None
            if not isinstance(servers, Mapping):
                continue
            for server in servers.values():
                if isinstance(server, Mapping) and agent in _agent_refs(server):
                    fronting.append(str(name))
        return fronting

    def _agent_listing(self) -> str:
        names = ", ".join(sorted(a.instance for a in self.agents)) or "none"
        return f"agent instances: {names}"


def _server_type(config: Mapping[str, Any], name: str) -> str | None:
    block = config.get(name)
    if not isinstance(block, Mapping) or not block:
        return None
    first = next(iter(block))
    return str(first) if isinstance(block[first], Mapping) else None


def _server_config(config: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """The inner ``{type: {implementation: {...}}}`` block of one instance."""
    if _server_type(config, name) is None:
        return None
    by_implementation = next(iter(config[name].values()))
    inner = next(iter(by_implementation.values()), None) if by_implementation else None
    return inner if isinstance(inner, Mapping) else None


def _ref_name(inner: Mapping[str, Any] | None, field: str) -> str | None:
    ref = inner.get(field) if inner is not None else None
    name = ref.get("name") if isinstance(ref, Mapping) else None
    return name if isinstance(name, str) else None


def _dataset_pins(inner: Mapping[str, Any]) -> list[str]:
    datasets = inner.get("datasets")
    if not isinstance(datasets, list):
        return []
    return [
        d["agent"] for d in datasets if isinstance(d, Mapping) and isinstance(d.get("agent"), str)
    ]


def _agent_refs(server: Mapping[str, Any]) -> list[str]:
    """The agents an environment server references: ``agent_server``, or any field whose
    ``type`` is ``responses_api_agents``."""
    names = []
    for field, ref in server.items():
        if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str):
            continue
        if ref.get("type") == AGENTS or (field == "agent_server" and ref.get("type") is None):
            names.append(ref["name"])
    return names


def stamp_indices(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``rows`` with Gym's ``_ng_task_index`` and ``_ng_rollout_index``.

    As Gym's preprocessing does: identical rows share a task index, in order of first
    appearance, and each repeat of a task gets the next rollout index. Gym's token capture (and
    with it prefix supply) keys each rollout by ``{task}-{rollout}``. Indices a row already
    carries are kept.
    """
    task_of: dict[bytes, int] = {}
    repeats: dict[Any, int] = {}
    stamped = []
    for row in rows:
        copy = dict(row)
        if TASK_INDEX not in copy:
            key = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
            copy[TASK_INDEX] = task_of.setdefault(key, len(task_of))
        if ROLLOUT_INDEX not in copy:
            task = copy[TASK_INDEX]
            copy[ROLLOUT_INDEX] = repeats.get(task, 0)
            repeats[task] = copy[ROLLOUT_INDEX] + 1
        stamped.append(copy)
    return stamped
