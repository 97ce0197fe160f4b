"""Plain Python values from what a trainer holds: torch tensors, numpy arrays, tuples, lists.

Nothing here imports torch or numpy: anything with ``tolist()`` is converted through it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with tensors and arrays turned into (nested) lists, tuples into lists."""
    if isinstance(value, str | bytes | bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, list) and _scalars(value):
        return value  # the common case, a list of numbers: no copy, no per-element call
    if isinstance(value, Sequence):
        return [plain(v) for v in value]
    return value


def _scalars(values: list[Any]) -> bool:
    """Whether every element is a plain number or ``None`` (one C-level pass over the types)."""
    return set(map(type, values)) <= _SCALAR_TYPES


_SCALAR_TYPES = {int, float, bool, type(None)}


def as_mapping(value: Any) -> Mapping[str, Any] | None:
    """A dict view of a sample: a mapping, a pydantic model, a dataclass or a plain object."""
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        dumped = dump()
        return dumped if isinstance(dumped, Mapping) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None


def depth(value: Any) -> int:
    """How many list levels ``value`` has (0 for a scalar, 1 for ``[1, 2]``)."""
    level = 0
    while isinstance(value, list):
        level += 1
        if not value:
            break
        value = value[0]
    return level


def rows(value: Any) -> list[Any]:
    """The rows of a 2-D value; a 1-D value is one row."""
    return list(value) if depth(value) >= 2 else [value]


def token_ids(value: Any) -> list[int]:
    if isinstance(value, list) and set(map(type, value)) <= {int}:
        return value
    return [int(v) for v in value]


def mask(value: Any) -> list[int]:
    """0/1 per position: any non-zero weight counts as trained."""
    if isinstance(value, list) and set(map(type, value)) <= {int} and set(value) <= {0, 1}:
        return value
    return [1 if v else 0 for v in value]


def logprobs(values: Sequence[Any]) -> list[float | None]:
    """Finite floats or ``None``; a list of finite floats is returned as it is."""
    if (
        isinstance(values, list)
        and set(map(type, values)) <= {float}
        and math.isfinite(sum(values))
    ):
        return values
    return [logprob(x) for x in values]


def logprob(value: Any) -> float | None:
    """A finite float, or ``None``. TRL may wrap each token's log-prob in a one-element list."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer past a float's range
        return None
    return value if math.isfinite(value) else None


def padding(attention: Sequence[Any]) -> tuple[int, int]:
    """``(left, right)``: the runs of zeros at each end of an attention mask."""
    n = len(attention)
    left = next((i for i, a in enumerate(attention) if a), n)
    right = next((i for i, a in enumerate(reversed(attention)) if a), n)
    return left, (0 if left == n else right)


def unpad(values: Sequence[Any], left: int, right: int) -> list[Any]:
    if not left and not right and isinstance(values, list):
        return values
    return list(values[left : len(values) - right])
