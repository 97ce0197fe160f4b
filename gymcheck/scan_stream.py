"""Compressed rollout files in the scan: decompressed once, in the scanning process, and cut
into blocks of whole lines that are scanned there or fanned out to the pool.

A stream has no byte ranges to hand out, so this process decompresses while the workers
check, and inflating is the scan's floor: gzip at about 200 MB/s on the development VM, where
one worker scans at 700 MB/s. So this process does little else: it cuts the stream at
newlines, each block travels as one ``bytes`` and its worker splits the lines, and each block
is scanned from line 1, its findings shifted after (``scan_lines.placed``). A ``RawLine`` per
line, built and pickled here, had cost 0.36 s per 200 MB on top of 1.05 s of inflating; the
blocks cost 0.1 s. At most two blocks per worker are in flight, so memory stays flat whatever
the file size.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from gymcheck.checks.records import SCHEMA
from gymcheck.compressed import STREAM_ERRORS, decompressed
from gymcheck.files import open_input
from gymcheck.report import Location
from gymcheck.scan_lines import (
    Block,
    Range,
    RangeResult,
    add_file,
    block_lines,
    placed,
    scan_block_in_worker,
    scan_lines,
)

if TYPE_CHECKING:
    from gymcheck.scan_lines import Options, Progress, ScanResult

CHUNK_BYTES = 8 << 20
"""Decompressed bytes of whole lines sent to a worker at once."""
_PIECE_BYTES = 256 << 10
"""The most one ``read1`` asks for: a reader allocates what is asked before it decompresses
(about 20 KB for gzip), and 8 MiB requests took 60 MB more memory than this."""


def scan_compressed(
    path: Path,
    name: str,
    result: ScanResult,
    tokenizer: Any,
    options: Options,
    progress: Progress | None,
    pool: ProcessPoolExecutor | None = None,
    workers: int = 1,
) -> None:
    """Decompress once, here, and scan the stream in blocks of whole lines: in this process,
    or fanned out to ``pool`` (at most two blocks per worker in flight, so memory stays
    flat). Findings keep the decompressed file's line numbers."""
    parts: list[RangeResult] = []
    pending: deque[Future[RangeResult]] = deque()
    broken = None
    reported = 0
    with open_input(path) as raw, decompressed(raw, name) as stream:
        pieces = cast(io.BufferedIOBase, stream)  # each format's reader is buffered
        blocks = stream_blocks(path, pieces, options.max_line_bytes)
        while True:
            # Only reading the stream is guarded: an OSError while scanning (a full disk
            # while spooling) is not a corrupt stream.
            try:
                block, where = next(blocks)
            except StopIteration:
                break
            except STREAM_ERRORS as exc:
                broken = Location(source=str(path)).finding(
                    SCHEMA,
                    f"the {name} stream is corrupt or cut off ({exc}); the lines before "
                    "were scanned",
                    fix=f"write the file again; check it with the {name} tool",
                )
                break
            if pool is None:
                lines = block_lines(block, options.max_line_bytes)
                parts.append(scan_lines(lines, where, tokenizer, options, None))
            else:
                pending.append(pool.submit(scan_block_in_worker, block, where, options))
                while len(pending) > 2 * workers:
                    parts.append(pending.popleft().result())
            if progress is not None:
                progress(raw.tell() - reported)
                reported = raw.tell()
    parts.extend(future.result() for future in pending)
    add_file(result, path, list(placed(parts)), read_to_end=broken is None)
    if broken is not None:
        result.tallies.collection.add_file_finding(broken)
    if progress is not None:
        progress(max(0, path.stat().st_size - reported))


def stream_blocks(
    path: Path, stream: io.BufferedIOBase, max_line_bytes: int
) -> Iterator[tuple[Block, Range]]:
    """The stream in blocks of about ``CHUNK_BYTES`` of whole lines, each with its range of
    the decompressed bytes (scanned from line 1). It is read one decompression at a time
    (``read1``), so when it breaks, the whole lines read before are yielded first: as many
    as reading it line by line gives. A line over the cap is skipped here, never held."""
    cutter = _Cutter(max_line_bytes)
    start = 0
    for block in cutter.blocks(stream):
        end = start + (block.oversize or len(block.data))
        yield block, Range(path, start, end)
        start = end


@dataclass(slots=True)
class _Cutter:
    """Whole lines gathered from the stream's pieces until a block's worth."""

    max_line_bytes: int
    whole: list[bytes] = field(default_factory=list)
    whole_bytes: int = 0
    partial: list[bytes] = field(default_factory=list)
    """The pieces of the line not ended yet."""
    partial_bytes: int = 0

    def blocks(self, stream: io.BufferedIOBase) -> Iterator[Block]:
        try:
            while piece := stream.read1(_PIECE_BYTES):
                yield from self._add(piece, stream)
        except STREAM_ERRORS:
            yield from self._flush()  # the cut-off line (``partial``) was never whole
            raise
        yield from self._flush()
        if self.partial:
            yield Block(b"".join(self.partial))

    def _add(self, piece: bytes, stream: io.BufferedIOBase) -> Iterator[Block]:
        while piece:  # again for what follows a line over the cap
            newline = piece.rfind(b"\n")
            if newline >= 0:
                self._add_whole(piece, newline)
                if self.whole_bytes >= CHUNK_BYTES:
                    yield from self._flush()
                return
            self.partial.append(piece)
            self.partial_bytes += len(piece)
            if self.partial_bytes <= self.max_line_bytes:
                return
            yield from self._flush()
            oversize, piece = self._skip_oversize(stream)
            yield oversize

    def _add_whole(self, piece: bytes, newline: int) -> None:
        """The open line ends in ``piece``, at or before its last newline."""
        self.whole += [*self.partial, piece[: newline + 1]]
        self.whole_bytes += self.partial_bytes + newline + 1
        rest = piece[newline + 1 :]
        self.partial, self.partial_bytes = ([rest] if rest else []), len(rest)

    def _flush(self) -> Iterator[Block]:
        if self.whole:
            yield Block(b"".join(self.whole))
        self.whole, self.whole_bytes = [], 0

    def _skip_oversize(self, stream: io.BufferedIOBase) -> tuple[Block, bytes]:
        """The open line, over the cap, read past and counted; and what follows it."""
        length = self.partial_bytes
        self.partial, self.partial_bytes = [], 0
        while piece := stream.read1(_PIECE_BYTES):
            newline = piece.find(b"\n")
            if newline >= 0:
                return Block(b"", oversize=length + newline + 1), piece[newline + 1 :]
            length += len(piece)
        return Block(b"", oversize=length), b""
