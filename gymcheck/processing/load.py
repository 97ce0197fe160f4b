"""Loading the user's processing: a ``FILE.py:FUNC`` / ``module:FUNC`` function, or the samples a
trainer already dumped (``--processed FILE.jsonl``), and calling the function on one rollout."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gymcheck.errors import GymcheckError, ProcessorLoadError, UsageError

Processor = Callable[[Mapping[str, Any], Any], Any]
"""``f(record, tokenizer) -> sample | list[sample]``, as the seed guide's
``process_rollout_for_training(rollout, tokenizer)``."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def import_object(spec: str, *, error: type[UsageError] = ProcessorLoadError) -> Any:
    """The object named by ``FILE.py:NAME`` or ``module:NAME``; ``error`` with one line if not."""
    module_name, _, attr = str(spec).rpartition(":")
    if not module_name or not attr:
        raise error(f"{spec!r} is not FILE.py:NAME or module:NAME")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).expanduser()
            if not path.is_file():
                raise error(f"{spec!r}: no such file {str(path)!r}")
            loader_spec = importlib.util.spec_from_file_location(f"_gymcheck_{path.stem}", path)
            if loader_spec is None or loader_spec.loader is None:
                raise error(f"{spec!r}: cannot import {str(path)!r}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[loader_spec.name] = module
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except GymcheckError:
        raise
    except Exception as exc:
        raise error(f"cannot import {module_name!r}: {one_line(exc)}") from exc
    if not hasattr(module, attr):
        raise error(f"{module_name!r} has no callable {attr!r}")
    return getattr(module, attr)


def load_processor(spec: str | Processor) -> Processor:
    """The user's processor: ``spec`` itself when callable, else imported from the spec."""
    if callable(spec):
        return spec
    found = import_object(spec)
    if not callable(found):
        raise ProcessorLoadError(f"{spec!r} is a {type(found).__name__}, not a function")
    return found  # type: ignore[no-any-return]


def read_processed(path: str | os.PathLike[str]) -> list[Any]:
    """One entry per line of a JSONL of processed samples (a sample, or a list of them).

    A line that is not JSON stays in its place as a ``ProcessedLineError`` so the rollout it
    belongs to gets a ``batch_format`` finding and the others are still checked.
    """
    from gymcheck.jsonl import iter_values

    entries: list[Any] = []
    try:
        for number, value, problem in iter_values(path):
            entries.append(value if problem is None else ProcessedLineError(number, problem))
    except OSError as exc:
        raise ProcessorLoadError(f"cannot read {str(path)!r}: {one_line(exc)}") from exc
    return entries


@dataclass(frozen=True, slots=True)
class ProcessedLineError:
    """A ``--processed`` line that could not be parsed."""

    line: int
    problem: str


@dataclass(frozen=True, slots=True)
class ProcessorCall:
    """What the processor gave for one rollout: its output, or why there is none."""

    output: Any = None
    error: str | None = None
    """Why there is no output: the processor raised, or the dumped line is missing or bad."""


def call_processor(
    processor: Processor, record: Mapping[str, Any], tokenizer: Any
) -> ProcessorCall:
    """``processor(record, tokenizer)``; an exception is data for a ``batch_format`` finding."""
    try:
        return ProcessorCall(processor(record, tokenizer))
    except Exception as exc:  # the user's code failed on this rollout: report it, go on
        return ProcessorCall(error=f"the processor raised {type(exc).__name__}: {one_line(exc)}")


@dataclass(frozen=True, slots=True)
class Processing:
    """The user's processing under test: their processor, or the samples their trainer dumped."""

    label: str
    """What the console and reports name: ``processor FILE.py:FUNC`` or ``processed FILE``."""
    processor: Processor | None = None
    processed: Sequence[Any] | None = None
    batch_format: str = "auto"

    def calls(
        self, records: Sequence[Mapping[str, Any]], tokenizer: Any
    ) -> Iterator[ProcessorCall]:
        """What the processing gave for each record, in order."""
        for index, record in enumerate(records):
            if self.processor is not None:
                yield call_processor(self.processor, record, tokenizer)
            elif self.processed is None or index >= len(self.processed):
                count = len(self.processed or ())
                yield ProcessorCall(
                    error=f"the processed file has no sample for rollout {index} ({count} lines)"
                )
            else:
                entry = self.processed[index]
                if isinstance(entry, ProcessedLineError):
                    yield ProcessorCall(
                        error=f"line {entry.line} of the processed file: {entry.problem}"
                    )
                else:
                    yield ProcessorCall(entry)


def load_processing(
    *,
    processor: str | Processor | None = None,
    processed: str | os.PathLike[str] | None = None,
    batch_format: str = "auto",
) -> Processing | None:
    """The processing named by ``--processor`` or ``--processed``; ``None`` when neither."""
    from gymcheck.processing.shapes import BATCH_FORMATS

    if batch_format not in BATCH_FORMATS:
        raise UsageError(f"--batch-format must be one of {', '.join(BATCH_FORMATS)}")
    if processor is not None and processed is not None:
        raise UsageError("pass --processor or --processed, not both")
    if processor is not None:
        name = (
            processor if isinstance(processor, str) else getattr(processor, "__name__", "processor")
        )
        return Processing(f"processor {name}", load_processor(processor), batch_format=batch_format)
    if processed is not None:
        return Processing(
            f"processed {processed}", processed=read_processed(processed), batch_format=batch_format
        )
    return None
