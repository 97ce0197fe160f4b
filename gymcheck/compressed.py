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
    reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
    return cast(BinaryIO, io.BufferedReader(reader, 1 << 20))
