"""The options that more than one command takes, each defined once.

A single option (``shared``): its flag, its metavar and its check; what a command says about it
(the help, the panel) stays with the command, where the words differ. Options that travel
together (the report options, the trainer's processing): an option group, a dataclass whose
fields are annotated with their ``typer.Option``, that a command takes as one parameter.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import typer

from gymcheck.cli._common import http_url

SHARED: dict[str, dict[str, Any]] = {
    "--base-url": {"metavar": "URL", "callback": http_url},
    "--model": {"metavar": "NAME"},
    "--api-key-env": {"metavar": "VAR"},
    "--tokenizer": {"metavar": "PATH|NAME"},
    "--rollouts": {"metavar": "FILE"},
    "--train-model": {"metavar": "PATH|MODULE:FN"},
    "--temperature": {"metavar": "T"},
    "--reward-range": {"metavar": "LO,HI"},
}


def shared(flag: str, help: str, **more: Any) -> Any:
    """The ``typer.Option`` of a shared ``flag``, with this command's ``help`` (and ``more``:
    its panel, ``show_default``, a bound)."""
    return typer.Option(flag, help=help, **SHARED[flag], **more)


def option_groups(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with each parameter whose annotation is an option group (a dataclass) spread
    into the group's fields, in its place; the command is called with the group built.

    typer reads a command's options from its signature, so the one given here lists the fields
    (their ``init`` ones) as options, in their order, where the group's parameter stood.
    """
    signature = inspect.signature(command, eval_str=True)
    params: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, list[str]]] = {}
    for param in signature.parameters.values():
        group = param.annotation
        if not (isinstance(group, type) and dataclasses.is_dataclass(group)):
            params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            continue
        hints = typing.get_type_hints(group, include_extras=True)
        fields = [f for f in dataclasses.fields(group) if f.init]
        groups[param.name] = (group, [f.name for f in fields])
        params += [
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name]
            )
            for f in fields
        ]

    @functools.wraps(command)
    def with_groups(**options: Any) -> None:
        for name, (group, fields) in groups.items():
            options[name] = group(**{field: options.pop(field) for field in fields})
        command(**options)

    with_groups.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    with_groups.__annotations__ = {p.name: p.annotation for p in params}
    return with_groups
