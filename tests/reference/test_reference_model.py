"""The tiny reference model: loadable, a sane tokenizer and chat template, and it calls tools."""

from __future__ import annotations

import itertools
import json
import unicodedata
from pathlib import Path

import pytest

from gymcheck.reference.episodes import REFERENCE_TOOLS
from gymcheck.reference.model import (
    REFERENCE_MODEL_NAME,
    build_key,
    ensure_reference_model,
    reference_model_dir,
)

TRICKY = [
    "hello world",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\n",
    "don't , spaces before punctuation .",
    "café naïve Zürich",
    "e\u0301 (combining) vs é",
    "日本語のテキスト 中文",
    "emoji 🙂👍🏽 👩‍💻",
    "<think> and </think> and <tool_call> as text",
    "<|im_end|> inside text",
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    "x" * 50,
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return ensure_reference_model()


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path):
    from gymcheck.loading import load_tokenizer

    return load_tokenizer(str(model_dir))


def test_directory_loads_with_transformers(model_dir: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_dir)
    assert config.model_type == "qwen2"
    assert config.head_dim == 64  # vLLM's CPU attention needs >= 64
    assert config.hidden_size == config.num_attention_heads * config.head_dim
    assert config.tie_word_embeddings
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert model.get_input_embeddings().weight.shape[0] == config.vocab_size
    assert (model_dir / "model.safetensors").is_file()
    generation = json.loads((model_dir / "generation_config.json").read_text())
    assert generation["eos_token_id"] == config.eos_token_id


def test_cached_and_keyed(model_dir: Path) -> None:
    assert model_dir.name == f"reference-{build_key()}"
    assert ensure_reference_model() == model_dir  # second call: the cache, no rebuild
    assert REFERENCE_MODEL_NAME == "gymcheck-tiny"


def test_cache_root_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GYMCHECK_CACHE_DIR", str(tmp_path))
    assert reference_model_dir().parent == tmp_path
    monkeypatch.delenv("GYMCHECK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert reference_model_dir().parent == tmp_path / "xdg" / "gymcheck"


def test_tokenizer_special_tokens(tokenizer) -> None:
    assert 1500 <= len(tokenizer) <= 4096
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.bos_token is None
    assert tokenizer.clean_up_tokenization_spaces is False
    for token in [
        "<|im_start|>",
        "<|im_end|>",
        "<think>",
        "</think>",
        "<tool_call>",
        "</tool_call>",
    ]:
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1, token
    assert tokenizer.encode("hi", add_special_tokens=True) == tokenizer.encode(
        "hi", add_special_tokens=False
    )


@pytest.mark.parametrize("text", TRICKY)
def test_tokenizer_round_trips(tokenizer, text: str) -> None:
    ids = tokenizer.encode(text, add_special_tokens=False)
    decoded = tokenizer.decode(ids, skip_special_tokens=False)
    # Qwen2Tokenizer's NFC normalizer composes "e" + U+0301; the ids still round-trip.
    assert decoded == unicodedata.normalize("NFC", text)
    assert tokenizer.encode(decoded, add_special_tokens=False) == ids


def _render(tokenizer, messages, tools=None, generation_prompt=False) -> str:
    return tokenizer.apply_chat_template(
        messages, tools=tools, add_generation_prompt=generation_prompt, tokenize=False
    )


def test_chat_template_is_append_only_and_keeps_reasoning(tokenizer) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    conversation = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "reasoning_content": "Call the tool.",
            "content": "",
            "tool_calls": [call],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"condition": "sunny"}'},
        {"role": "assistant", "reasoning_content": "It is sunny.", "content": "Sunny."},
        {"role": "user", "content": "Thanks!"},
    ]
    renders = [_render(tokenizer, conversation[:k], REFERENCE_TOOLS) for k in range(1, 6)]
    for shorter, longer in itertools.pairwise(renders):
        assert longer.startswith(shorter)
    with_prompt = _render(tokenizer, conversation[:1], REFERENCE_TOOLS, generation_prompt=True)
    assert with_prompt == renders[0] + "<|im_start|>assistant\n"
    assert "<think>\nCall the tool.\n</think>\n\n" in renders[-1]
    assert "<think>\nIt is sunny.\n</think>\n\nSunny.<|im_end|>" in renders[-1]
    # The tool call renders exactly as the model is trained to write it; results as Qwen2.5.
    assert (
        "<|im_start|>assistant\n<think>\nCall the tool.\n</think>\n\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n'
        '<|im_start|>user\n<tool_response>\n{"condition": "sunny"}\n</tool_response><|im_end|>\n'
    ) in renders[-1]
    assert "# Tools" in renders[0] and '"name": "lookup_synonym"' in renders[0]


def test_model_writes_reasoning_and_tool_calls(model_dir: Path) -> None:
    from gymcheck.reference.generation import Engine, SamplingParams
    from gymcheck.reference.toolcalls import parse_assistant_text

    engine = Engine(model_dir)
    names = {t["function"]["name"] for t in REFERENCE_TOOLS}
    calls = 0
    questions = ["What is the weather in Paris?", "Give me a synonym for happy.", "Add 3 and 4."]
    for seed, question in enumerate(questions):
        prompt = engine.render(
            [{"role": "user", "content": question}], REFERENCE_TOOLS, add_generation_prompt=True
        )
        out = engine.generate(prompt, SamplingParams(max_tokens=120, temperature=0.7, seed=seed))
        assert out.finish_reason == "stop"
        assert out.token_ids[-1] == engine.eos_token_id
        parsed = parse_assistant_text(engine.decode(out.token_ids[:-1]))
        assert parsed.reasoning, "the model reasons in <think> first"
        calls += sum(c["function"]["name"] in names for c in parsed.tool_calls)
    assert calls >= 2, "the model should call an offered tool on most tool questions"
