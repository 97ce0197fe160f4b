"""token_roundtrip on five real tokenizers: exact categories, properties and verdicts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest
from conftest import LLAMA3_CHAT_TEMPLATE
from typer.testing import CliRunner

from gymcheck.checks.chat_template import (
    check_reasoning_preserved,
    render_text,
    template_properties,
)
from gymcheck.checks.roundtrip import (
    DEFAULT_CORPUS,
    RoundTrip,
    categorize,
    decode_hazards,
    load_strings,
    run_battery,
)
from gymcheck.checks.tokenizer import check_token_roundtrip
from gymcheck.cli import app
from gymcheck.errors import UsageError
from gymcheck.render.words import step_text
from gymcheck.report import CheckResult, Status

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message.role + '\n' }}"
    "{% if message.reasoning_content %}"
    "{{ '<think>\n' + message.reasoning_content + '\n</think>\n\n' }}{% endif %}"
    "{{ message.content or '' }}"
    "{% for call in message.tool_calls or [] %}"
    "{{ '<tool_call>' + call.function.name + ' ' + call.function.arguments + '</tool_call>' }}"
    "{% endfor %}"
    "{{ '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# The same, escaping special-token text in content so that it stays text.
GUARDED_CHATML = CHATML.replace(
    "{{ message.content or '' }}", "{{ (message.content or '') | replace('<|', '<\u200b|') }}"
)


def steps(result: CheckResult) -> dict[str, Status]:
    return {s.name: s.status for s in result.steps}


def codes(result: CheckResult) -> Counter[str]:
    return Counter(f.code for f in result.findings)


@pytest.fixture(scope="session")
def tiny_bpe():
    """A byte-level BPE trained here with ``tokenizers``, with a ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator([*DEFAULT_CORPUS, "The weather in Paris is sunny."] * 3, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHATML,
        clean_up_tokenization_spaces=False,
    )


# --- the five real tokenizers -------------------------------------------------------------


def test_qwen3_names_reasoning_stripping_as_a_template_hazard(qwen3_tokenizer) -> None:
    result = check_token_roundtrip(qwen3_tokenizer)
    assert result.status is Status.WARN
    assert result.details["categories"] == {}
    assert steps(result) == {
        "roundtrip": Status.PASS,
        "decode_hazards": Status.PASS,
        "append_only": Status.WARN,
        "generation_prompt_prefix": Status.PASS,
        "reasoning_preserved": Status.WARN,
        "special_tokens_in_content": Status.WARN,
    }
    assert codes(result) == {
        "chat_template_append_only": 1,
        "chat_template_reasoning_preserved": 1,
        "chat_template_special_tokens_in_content": 1,
    }
    reasoning = next(f for f in result.findings if f.code == "chat_template_reasoning_preserved")
    assert reasoning.severity == "warning"
    assert reasoning.turn == 5 and reasoning.token_index == 216
    assert "⟦<think>⟧\nThe tool reports" in (reasoning.expected or "")
    assert "⟦S⟧unny.<|im_end|>" in (reasoning.actual or "")
    assert "reasoning stripping is a template hazard" in (reasoning.fix or "")
    assert "token-in-token-out" in (reasoning.fix or "")
    append = next(f for f in result.findings if f.code == "chat_template_append_only")
    # The tool-call turn renders an empty <think></think> only while it is the last message.
    assert append.turn == 4 and append.details["breaking_turns"] == [4, 6]
    assert result.summary.startswith("template hazards: append_only, reasoning_preserved — warn")
    assert result.details["decode_hazards"] == 1457


def test_llama3_with_its_template_passes(llama3_tokenizer) -> None:
    result = check_token_roundtrip(llama3_tokenizer, chat_template=LLAMA3_CHAT_TEMPLATE)
    assert result.status is Status.PASS
    assert result.details["categories"] == {}
    assert result.details["chat_template"] == "supplied"
    assert result.details["properties"] == {
        "append_only": "pass",
        "generation_prompt_prefix": "pass",
        "reasoning_preserved": "pass",
        "special_tokens_in_content": "fail",
    }
    # Reported, verdict unchanged: both sides tokenize "<|eot_id|>" in content alike.
    (special,) = result.findings
    assert special.code == "chat_template_special_tokens_in_content"
    assert special.severity == "info"
    assert 128009 in special.details["injected_ids"]  # <|eot_id|>


def test_llama3_without_a_template_warns_and_skips_the_template_part(llama3_tokenizer) -> None:
    result = check_token_roundtrip(llama3_tokenizer)
    assert result.status is Status.WARN
    assert codes(result) == {"chat_template_missing": 1}
    assert steps(result)["chat_template"] is Status.WARN
    assert result.details["properties"] == {}


def test_gpt2_round_trips_cleanly_and_warns_for_its_missing_template(gpt2_tokenizer) -> None:
    result = check_token_roundtrip(gpt2_tokenizer)
    assert result.status is Status.WARN
    assert result.details["categories"] == {}
    assert result.details["vocab_size"] == 50257
    assert result.details["decode_hazards"] == 352
    assert codes(result) == {"chat_template_missing": 1}


def test_sentencepiece_whitespace_failures_are_found(sentencepiece_tokenizer) -> None:
    result = check_token_roundtrip(sentencepiece_tokenizer)
    assert result.status is Status.FAIL
    assert result.details["categories"] == {"whitespace": 4}
    assert steps(result)["roundtrip"] is Status.FAIL
    assert codes(result) == {"roundtrip_failure": 4, "chat_template_missing": 1}
    failure = next(f for f in result.findings if f.expected == "  two leading spaces")
    assert failure.severity == "error"
    assert failure.actual == " two leading spaces"
    assert failure.details["ids"] == [259, 10861, 5374, 10599]
    assert failure.details["re_encoded"] == [989, 5374, 10599]
    assert failure.details["category"] == "whitespace"
    assert failure.token_index == 0
    assert "off-policy" in result.summary


def test_tiny_bpe_with_chatml_passes(tiny_bpe) -> None:
    result = check_token_roundtrip(tiny_bpe)
    assert result.status is Status.PASS
    assert result.details["categories"] == {}
    assert steps(result)["special_tokens_in_content"] is Status.WARN
    assert codes(result) == {"chat_template_special_tokens_in_content": 1}


def test_tiny_bpe_with_escaping_template_passes_every_property(tiny_bpe) -> None:
    result = check_token_roundtrip(tiny_bpe, chat_template=GUARDED_CHATML)
    assert result.status is Status.PASS
    assert result.findings == []
    assert set(steps(result).values()) == {Status.PASS}
    assert step_text(result.id, result.steps[0]) == f"All {len(DEFAULT_CORPUS)} round-trips stable"


# --- the parts, from Python -----------------------------------------------------------------


def test_reasoning_stripping_template_fails_the_property(tiny_bpe) -> None:
    stripping = CHATML.replace(
        "{% if message.reasoning_content %}", "{% if loop.last and message.reasoning_content %}"
    )
    prop = check_reasoning_preserved(tiny_bpe, chat_template=stripping)
    assert prop.status == "fail"
    assert prop.details["form"] == "reasoning_content" and prop.details["turn"] == 5


def test_template_that_cannot_render_is_skipped_with_a_warning(tiny_bpe) -> None:
    broken = "{{ raise_exception('roles must alternate user/assistant') }}"
    properties = template_properties(tiny_bpe, chat_template=broken)
    assert [p.status for p in properties] == ["skip"] * 4
    result = check_token_roundtrip(tiny_bpe, chat_template=broken)
    assert result.status is Status.WARN
    assert codes(result) == {"chat_template_render_error": 4}
    assert "roles must alternate" in result.findings[0].message


def test_render_text_returns_text(qwen3_tokenizer) -> None:
    text = render_text(qwen3_tokenizer, [{"role": "user", "content": "hi"}], tools=None)
    assert text == "<|im_start|>user\nhi<|im_end|>\n"


def test_user_strings_join_the_battery(sentencepiece_tokenizer) -> None:
    result = check_token_roundtrip(sentencepiece_tokenizer, strings=["   three spaces", "ok"])
    assert result.details["strings"] == len(DEFAULT_CORPUS) + 2
    assert result.details["categories"] == {"whitespace": 5}


def test_categories_of_hand_made_round_trips(qwen3_tokenizer) -> None:
    def category(original: str, decoded: str, ids: list[int] | None = None) -> str:
        trip = RoundTrip(original, ids or [1], decoded, [2])
        return categorize(qwen3_tokenizer, trip)

    assert category("a  b", "a b") == "whitespace"
    assert category("café", "cafe\u0301") == "unicode_normalization"
    assert category("ＡＢＣ", "ABC") == "unicode_normalization"
    assert category("é", "\ufffd") == "partial_utf8"
    assert category("<|im_end|>", "<|im_end|>", [151645]) == "special_token_text"
    assert category("abc", "xyz") == "other"


def test_battery_reports_each_failure_with_its_evidence(sentencepiece_tokenizer) -> None:
    trips = run_battery(sentencepiece_tokenizer, [" ", "hello"])
    assert [t.stable for t in trips] == [False, True]
    assert trips[0].to_dict() == {
        "original": " ",
        "ids": [28705],
        "decoded": "",
        "re_encoded": [],
        "category": "whitespace",
    }


def test_decode_hazards_are_byte_pieces(gpt2_tokenizer) -> None:
    hazards = decode_hazards(gpt2_tokenizer)
    assert len(hazards) == 352
    assert all(gpt2_tokenizer.decode([i]).count("\ufffd") >= 1 for i in hazards[:20])


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("s.json", '["a", " b"]', ["a", " b"]),
        ("s.jsonl", '"a\\n"\n\n"\\tb"\n', ["a\n", "\tb"]),
        ("s.txt", "one\ntwo  \n", ["one", "two  "]),
    ],
)
def test_load_strings(tmp_path: Path, name: str, body: str, expected: list[str]) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    assert load_strings(path) == expected


@pytest.mark.parametrize(("name", "body"), [("s.json", '{"a": 1}'), ("s.jsonl", "[1]\n")])
def test_load_strings_rejects_bad_files(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(UsageError):
        load_strings(path)


# --- the command line -----------------------------------------------------------------------

runner = CliRunner()


def test_cli_qwen3_json_report(qwen3_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    run = runner.invoke(app, ["tokenizer", "--tokenizer", str(qwen3_dir), "--json", str(out)])
    assert run.exit_code == 0, run.output
    assert "reasoning_preserved" in run.output
    assert "reasoning stripping is a template hazard" in run.output
    assert "warn: a known hazard that token-in-token-out handles" in run.output
    report = orjson.loads(out.read_bytes())
    assert report["passed"] is True
    (check,) = report["checks"]
    assert check["id"] == "token_roundtrip" and check["status"] == "warn" and check["required"]
    assert {f["code"] for f in report["findings"]} == {
        "chat_template_append_only",
        "chat_template_reasoning_preserved",
        "chat_template_special_tokens_in_content",
    }


def test_cli_sentencepiece_fails_with_exit_1(sentencepiece_dir: Path) -> None:
    run = runner.invoke(app, ["tokenizer", "--tokenizer", str(sentencepiece_dir)])
    assert run.exit_code == 1, run.output
    assert "whitespace" in run.output
    assert "fail: RL training on this tokenizer/template goes off-policy" in run.output


def test_cli_llama3_with_chat_template_file(llama3_dir: Path, tmp_path: Path) -> None:
    template = tmp_path / "llama3.jinja"
    template.write_text(LLAMA3_CHAT_TEMPLATE, encoding="utf-8")
    strings = tmp_path / "strings.txt"
    strings.write_text("extra  string\n", encoding="utf-8")
    run = runner.invoke(
        app,
        [
            "tokenizer",
            "--tokenizer",
            str(llama3_dir),
            "--chat-template",
            str(template),
            "--strings",
            str(strings),
        ],
    )
    assert run.exit_code == 0, run.output
    assert f"All {len(DEFAULT_CORPUS) + 1} round-trips stable" in run.output
    assert "✅ pass" in run.output


def test_cli_tiny_bpe_passes(tiny_bpe, tmp_path: Path) -> None:
    tiny_bpe.save_pretrained(tmp_path)
    run = runner.invoke(app, ["tokenizer", "--tokenizer", str(tmp_path)])
    assert run.exit_code == 0, run.output
    assert "✅ pass: round-trips are stable" in run.output


def test_cli_gpt2_warns(gpt2_dir: Path) -> None:
    run = runner.invoke(app, ["tokenizer", "--tokenizer", str(gpt2_dir)])
    assert run.exit_code == 0, run.output
    assert "no chat template" in run.output


@pytest.mark.parametrize(
    "extra",
    [
        ["--tokenizer", "no-such-org/no-such-model"],
        ["--tokenizer", "TOKENIZER", "--strings", "/nonexistent/strings.txt"],
        ["--tokenizer", "TOKENIZER", "--chat-template", "/nonexistent/template.jinja"],
    ],
)
def test_cli_bad_input_exits_2(extra: list[str], qwen3_dir: Path) -> None:
    args = ["tokenizer", *[str(qwen3_dir) if a == "TOKENIZER" else a for a in extra]]
    run = runner.invoke(app, args)
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
