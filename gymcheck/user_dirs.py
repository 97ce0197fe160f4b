"""Where gymcheck keeps its cache (the built reference model) and its logs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$GYMCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/gymcheck``, else ``~/.cache/gymcheck``."""
    explicit = os.environ.get("GYMCHECK_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gymcheck"


def log_dir() -> Path:
    return cache_dir() / "logs"
