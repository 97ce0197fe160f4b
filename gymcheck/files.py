"""Input files opened so that nothing can block or be lost, and report paths that never
overwrite an input.

A FIFO with no writer blocks ``open()`` forever, a character device never ends, and a report
written over its own input destroys it. ``open_input`` checks the file type first, opens
non-blocking and checks again on the open descriptor (the path may have changed between);
``check_report_paths`` refuses a report path that is an input, directly or through a link.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from gymcheck.errors import UsageError

PathLike = str | os.PathLike[str]


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; ``None`` for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_input_file(path: PathLike) -> Path:
    """``path`` as a ``Path`` when it is a readable regular file; ``UsageError`` otherwise."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"cannot read {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    kind = _kind(mode)
    if kind is not None:
        raise UsageError(f"{path}: is {kind}, not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"cannot read {path}: permission denied")
    return path


def open_input(path: PathLike, *, buffer_size: int = -1) -> BinaryIO:
    """``path`` opened for binary reading; ``UsageError`` for anything but a regular file.
    ``buffer_size`` is the read buffer's (``-1``: Python's default, the file system's block).

    ``O_NONBLOCK`` makes ``open`` return at once even if the path became a FIFO after the type
    check; the descriptor's own type is then checked before anything is read.
    """
    checked = check_input_file(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(checked, flags)
    except OSError as exc:
        raise UsageError(f"{checked}: {exc.strerror or exc}") from None
    kind = _kind(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise UsageError(f"{checked}: is {kind}, not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb", buffering=buffer_size)


MAX_SMALL_INPUT_BYTES = 64 << 20
"""A strings file or a chat template read whole: more than this is not one."""


def read_small_input(path: PathLike, what: str) -> bytes:
    """A small input file read whole, through ``open_input``; ``UsageError`` names ``what``
    when it cannot be read or is over ``MAX_SMALL_INPUT_BYTES``."""
    try:
        with open_input(path) as handle:
            data = handle.read(MAX_SMALL_INPUT_BYTES + 1)
    except UsageError as exc:
        raise UsageError(f"{what}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_SMALL_INPUT_BYTES:
        raise UsageError(f"{what} {path} is over {MAX_SMALL_INPUT_BYTES >> 20} MiB")
    return data


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def check_report_paths(
    outputs: Iterable[tuple[str, PathLike | None]], inputs: Iterable[PathLike]
) -> None:
    """``UsageError`` when a report path (``(flag, path)``) is an input file or another report.

    Files are compared by device and inode, so a symlink or hard link to an input counts as the
    input; a report path that does not exist yet cannot be one.
    """
    known: dict[tuple[int, int], str] = {}
    for raw in inputs:
        identity = _identity(Path(raw))
        if identity is not None:
            known.setdefault(identity, f"the input file {raw}")
    named: dict[str, str] = {}
    for flag, output in outputs:
        if output is None or str(output) == "-":
            continue
        path = Path(output)
        identity = _identity(path)
        if identity is not None and identity in known:
            raise UsageError(f"{flag} {path} is {known[identity]}: refusing to overwrite it")
        resolved = str(path.resolve())
        if resolved in named:
            raise UsageError(f"{flag} {path} is also the {named[resolved]} path")
        named[resolved] = flag
        if identity is not None:
            known[identity] = f"the {flag} path"
