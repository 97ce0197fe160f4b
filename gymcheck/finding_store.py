"""Findings counted, not all kept: flat memory however many bad records a file holds.

A ``FindingStore`` counts every finding per (code, cause) and keeps the first ``keep`` of each
(all of them when ``keep`` is ``None``, for records already in memory). With ``spool=True`` it
also writes every finding, as its JSON object, to a temporary file, from which the ``--json``
report streams them. A store crosses process boundaries (the scan's workers) by pickling: its
spool files travel as paths, and the receiving process removes them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import IO, Any

import orjson

from gymcheck.report import CheckResult, Finding, Status, Step

KEEP_PER_GROUP = 50
"""Per (code, cause), what a file scan keeps: the console shows the first few, ``-v`` up to
this many, the totals always."""

GroupKey = tuple[str, str | None]


class FindingStore:
    """Every finding counted per (code, cause), the first ``keep`` of each kept, all of them
    spooled to disk when ``spool`` is set."""

    def __init__(self, *, keep: int | None = None, spool: bool = False) -> None:
        self.keep = keep if keep is not None else sys.maxsize
        self.spool = spool
        self.kept: list[Finding] = []
        self.counts: Counter[GroupKey] = Counter()
        self._kept_counts: Counter[GroupKey] = Counter()
        self._files: list[str] = []
        self._handle: IO[bytes] | None = None
        self._cleanup: list[weakref.finalize[Any, Any]] = []
        self._portable = False

    def __len__(self) -> int:
        return self.counts.total()

    def __bool__(self) -> bool:
        return bool(self.counts)

    def append(self, finding: Finding, *, always_keep: bool = False) -> None:
        """Count ``finding``; keep it while its group has room (or ``always_keep``: a finding
        about a whole file, which must show however many records came before it)."""
        key = (finding.code, finding.cause)
        self.counts[key] += 1
        if always_keep or self._kept_counts[key] < self.keep:
            self._kept_counts[key] += 1
            self.kept.append(finding)
        if self.spool:
            self._spool_handle().write(finding.to_json_bytes() + b"\n")

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.append(finding)

    def merge(self, other: FindingStore) -> None:
        """Add ``other``'s findings after this store's (its spool files, in order)."""
        for finding in other.kept:
            key = (finding.code, finding.cause)
            if self._kept_counts[key] < self.keep:
                self._kept_counts[key] += 1
                self.kept.append(finding)
        self.counts.update(other.counts)
        if other.spool:
            other.close()
            self._close_handle()
            for finalizer in other._cleanup:
                finalizer.detach()
            other._cleanup = []
            for path in other._files:
                self._files.append(path)
                self._cleanup.append(weakref.finalize(self, _remove, path))
            other._files = []
            self.spool = True
        elif self.spool:
            for finding in other.kept:
                self._spool_handle().write(finding.to_json_bytes() + b"\n")

    def shift(self, lines: int, records: int) -> None:
        """Move every finding ``lines`` lines and ``records`` records further into its file:
        the findings of a range scanned as if it started the file (the parallel scan does
        not wait for a count of the lines before each range). Spooled findings are rewritten."""
        if not lines and not records:
            return
        self.kept = [_shifted(f, lines, records) for f in self.kept]
        self._close_handle()
        for path in self._files:
            _shift_spooled(path, lines, records)

    @property
    def complete(self) -> bool:
        """Whether ``kept`` holds every finding (nothing was only counted)."""
        return len(self.kept) == len(self)

    def if_partial(self) -> FindingStore | None:
        """This store when it holds more findings than it kept (a ``CheckResult`` then streams
        them from here), else ``None``: the kept list is all there is."""
        return None if self.complete else self

    def result(
        self,
        check_id: str,
        status: Status,
        summary: str,
        *,
        details: dict[str, Any],
        steps: list[Step],
    ) -> CheckResult:
        """A check's result holding this store's findings: the kept ones, and the store itself
        when it counted more (``if_partial``)."""
        return CheckResult(
            check_id,
            status,
            summary,
            details=details,
            steps=steps,
            findings=list(self.kept),
            finding_store=self.if_partial(),
        )

    def dicts(self) -> Iterator[dict[str, Any]]:
        """Every finding's JSON object, in order: from the spool when ``kept`` is not all."""
        if self.complete or not self.spool:
            yield from (f.to_dict() for f in self.kept)
            return
        for line in self.json_lines():
            yield orjson.loads(line)

    def json_lines(self) -> Iterator[bytes]:
        """Every finding as one line of JSON (no newline), in order."""
        if self.complete or not self.spool:
            yield from (f.to_json_bytes() for f in self.kept)
            return
        self._close_handle()
        for path in self._files:
            with open(path, "rb") as handle:
                for line in handle:
                    yield line.rstrip(b"\n")

    def close(self) -> None:
        self._close_handle()

    def _spool_handle(self) -> IO[bytes]:
        if self._handle is None:
            fd, path = tempfile.mkstemp(prefix="gymcheck-findings-", suffix=".jsonl")
            self._handle = os.fdopen(fd, "wb")
            self._files.append(path)
            self._cleanup.append(weakref.finalize(self, _remove, path))
        return self._handle

    def _close_handle(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def make_portable(self) -> None:
        """Pickle the spooled findings themselves, not their paths: for a result that may
        travel to another machine (a Ray task's), where this machine's files are not."""
        self._portable = True

    def __getstate__(self) -> dict[str, Any]:
        # The receiving process owns the spool files (or, portable, their content) from now on.
        self._close_handle()
        for finalizer in self._cleanup:
            finalizer.detach()
        state = {name: getattr(self, name) for name in _STATE}
        if getattr(self, "_portable", False):
            state["_inline"] = [_take(path) for path in self._files]
            state["_files"] = []
        self._cleanup = []
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in _STATE:
            setattr(self, name, state[name])
        self._handle = None
        self._cleanup = [weakref.finalize(self, _remove, path) for path in self._files]
        for content in state.get("_inline", ()):
            self._spool_handle().write(content)
        self._close_handle()


_STATE = ("keep", "spool", "kept", "counts", "_kept_counts", "_files")


def _shifted(finding: Finding, lines: int, records: int) -> Finding:
    # A copy: the same finding may be kept in two stores, and each shifts it once.
    line, index = finding.line, finding.rollout_index
    return replace(
        finding,
        line=None if line is None else line + lines,
        rollout_index=None if index is None else index + records,
    )


def _shift_spooled(path: str, lines: int, records: int) -> None:
    """Rewrite a spool file with shifted positions; orjson writes back the bytes that
    ``Finding.to_json_bytes`` would have written (same keys in the same order)."""
    with open(path, "rb") as source, open(path + ".shifted", "wb") as sink:
        for raw in source:
            data = orjson.loads(raw)
            if "line" in data:
                data["line"] += lines
            if "rollout_index" in data:
                data["rollout_index"] += records
            sink.write(orjson.dumps(data) + b"\n")
    os.replace(path + ".shifted", path)


def _take(path: str) -> bytes:
    """A spool file's content; the file is removed."""
    with open(path, "rb") as handle:
        content = handle.read()
    _remove(path)
    return content


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
