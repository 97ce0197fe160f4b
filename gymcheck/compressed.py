"""Compressed rollout files read as streams: gzip, zstd, bzip2 and xz, known by their magic bytes
(whatever the file is called).

gzip, bzip2 and xz come with Python; zstd needs ``zstandard`` (``pip install gymcheck[zstd]``).
A stream that is corrupt or cut off raises one of ``STREAM_ERRORS`` where it breaks; the lines
before it were read.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

from gymcheck.errors import UsageError

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b\x08", "gzip"),  # with its one compression method, deflate
    (b"\x28\xb5\x2f\xfd", "zstd"),
    *(
        (b"BZh" + level, "bzip2")
        for level in (b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9")
    ),
    (b"\xfd7zXZ\x00", "xz"),
)

STREAM_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)
"""What reading a broken compressed stream raises (``gzip.BadGzipFile`` is an ``OSError``;
zstandard's ``ZstdError`` is added when it is installed)."""

zstandard: Any
try:
    import zstandard
except ImportError:  # the optional extra
    zstandard = None
else:
    STREAM_ERRORS = (*STREAM_ERRORS, zstandard.ZstdError)


def compression(handle: BinaryIO) -> str | None:
    """The compression format of an open file by its first bytes; the position is kept."""
    position = handle.tell()
    head = handle.read(8)
    handle.seek(position)
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def require_reader(name: str, path: object) -> None:
    """``UsageError`` when ``name`` needs a library that is not installed."""
    if name == "zstd" and zstandard is None:
        raise UsageError(
            f"{path}: is zstd-compressed; reading it needs zstandard: "
            "pip install 'gymcheck[zstd]' (or decompress it: zstd -d)"
        )


@contextmanager
def decompressed(handle: BinaryIO, name: str | None) -> Iterator[BinaryIO]:
    """``handle`` itself when ``name`` is ``None``, else a buffered stream of its content."""
    if name is None:
        yield handle
        return
    with _stream(handle, name) as stream:
        yield stream


def _stream(handle: BinaryIO, name: str) -> BinaryIO:
    if name == "gzip":
        return cast(BinaryIO, gzip.GzipFile(fileobj=handle, mode="rb"))
    if name == "bzip2":
        return cast(BinaryIO, bz2.BZ2File(handle, mode="rb"))
    if name == "xz":
        return cast(BinaryIO, lzma.LZMAFile(handle, mode="rb"))
    require_reader(name, getattr(handle, "name", "input"))
    checked = _ZstdFrameCheck(handle)
    reader = zstandard.ZstdDecompressor().stream_reader(checked, read_across_frames=True)
    return cast(BinaryIO, io.BufferedReader(reader, 1 << 20))


class _ZstdFrameCheck(io.RawIOBase):
    """The compressed file as zstandard's reader reads it, its frames walked on the way.

    zstandard ends a stream that is cut off inside a frame as if it were whole, where gzip,
    bzip2 and xz raise: reaching the end of the file inside a frame raises ``ZstdError``."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._frames = _ZstdFrames()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._handle.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self._frames.walk(memoryview(buffer)[:count])
        elif not self._frames.between:
            raise zstandard.ZstdError("the stream ends inside a frame")
        return int(count or 0)


_ZSTD_FRAME = 0xFD2FB528
_ZSTD_SKIPPABLE = 0x184D2A50  # the low 4 bits vary
_ID_BYTES = (0, 1, 2, 4)


class _ZstdFrames:
    """Where a zstd stream is among its frames, from the headers alone (RFC 8878 section 3.1):
    a header is gathered, and the bytes it announces (block content, checksums, skippable
    frames) are passed over unread."""

    def __init__(self) -> None:
        self._header = bytearray()
        self._wanted = 4
        self._expect = self._magic
        self._skip = 0
        self._checksum = 0

    @property
    def between(self) -> bool:
        """Whether the stream so far ends at a frame boundary."""
        return self._expect == self._magic and not self._header and not self._skip

    def walk(self, data: memoryview) -> None:
        at = 0
        while at < len(data):
            if self._skip:
                passed = min(self._skip, len(data) - at)
                self._skip -= passed
                at += passed
                continue
            taken = min(self._wanted - len(self._header), len(data) - at)
            self._header += data[at : at + taken]
            at += taken
            if len(self._header) == self._wanted:
                header = int.from_bytes(self._header, "little")
                self._header.clear()
                self._expect(header)

    def _next(self, expect: Any, wanted: int, skip: int = 0) -> None:
        self._expect, self._wanted, self._skip = expect, wanted, skip

    def _magic(self, magic: int) -> None:
        if magic == _ZSTD_FRAME:
            self._next(self._descriptor, 1)
        elif magic & ~0xF == _ZSTD_SKIPPABLE:
            self._next(self._skippable, 4)
        else:
            raise zstandard.ZstdError("not a zstd frame")

    def _descriptor(self, descriptor: int) -> None:
        single_segment = descriptor >> 5 & 1
        size_bytes = (single_segment, 2, 4, 8)[descriptor >> 6]
        rest = (1 - single_segment) + _ID_BYTES[descriptor & 3] + size_bytes
        self._checksum = 4 if descriptor >> 2 & 1 else 0
        self._next(self._block, 3, rest)

    def _block(self, header: int) -> None:
        kind, size = header >> 1 & 3, header >> 3
        if kind == 3:
            raise zstandard.ZstdError("a reserved block type")
        content = 1 if kind == 1 else size  # an RLE block holds its one byte
        if header & 1:  # the frame's last block
            self._next(self._magic, 4, content + self._checksum)
        else:
            self._next(self._block, 3, content)

    def _skippable(self, size: int) -> None:
        self._next(self._magic, 4, size)
