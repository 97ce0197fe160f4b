"""Loading tokenizers offline: a local directory, or a name already in the Hugging Face cache."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from gymcheck.errors import TokenizerLoadError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def quiet_transformers() -> None:
    """Offline, no progress bars, errors only: gymcheck draws its own output."""
    # gymcheck never reaches a hub: fail fast instead of retrying a network that is not there.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


@lru_cache(maxsize=8)
def load_tokenizer(path_or_name: str | os.PathLike[str]) -> PreTrainedTokenizerBase:
    """A Hugging Face tokenizer from a local directory or the local cache, never the network.

    Raises ``TokenizerLoadError`` with a one-line reason when it cannot be loaded.
    """
    quiet_transformers()
    from transformers import AutoTokenizer

    source = str(path_or_name)
    path = Path(source).expanduser()
    if path.exists() and not path.is_dir():
        raise TokenizerLoadError(f"tokenizer {source!r} is a file; give its directory")
    try:
        return AutoTokenizer.from_pretrained(
            str(path) if path.is_dir() else source, local_files_only=True
        )
    except Exception as exc:
        where = "directory" if path.is_dir() else "name (not in the local Hugging Face cache)"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TokenizerLoadError(
            f"cannot load tokenizer {source!r} from {where} offline: {reason}"
        ) from exc
