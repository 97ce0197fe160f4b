"""The scan's fast path against the exact path: the same findings on generated files, clean and
faulty (hypothesis), and the fast path really taking the clean lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rollout_builders import make_record, tito_turns

from gymcheck.fastscan import prove_clean
from gymcheck.scan import ScanResult, scan

VOCAB = 151_669  # Qwen3's, so that the tokenizer runs can flag ids past it


def record_turns(draw: st.DrawFn) -> list[tuple[list[int], list[int]]]:
    ids = st.integers(0, 1000)
    prompt = draw(st.lists(ids, max_size=12))
    turns = []
    for _ in range(draw(st.integers(1, 4))):
        generated = draw(st.lists(ids, min_size=1, max_size=6))
        turns.append((prompt, generated))
        prompt = prompt + generated + draw(st.lists(ids, max_size=4))
    return turns


def first_item(record: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in record["response"]["output"] if "prompt_token_ids" in i)


def last_item(record: dict[str, Any]) -> dict[str, Any]:
    return [i for i in record["response"]["output"] if "prompt_token_ids" in i][-1]


# Each fault edits the record (a dict) the way a broken writer or engine would.
def _set_id(value: Any):
    def edit(record: dict[str, Any]) -> None:
        last_item(record)["generation_token_ids"][0] = value

    return edit


def _set_logprob(value: Any):
    def edit(record: dict[str, Any]) -> None:
        last_item(record)["generation_log_probs"][0] = value

    return edit


def _break_last_prompt(record: dict[str, Any]) -> None:
    prompt = last_item(record)["prompt_token_ids"]
    if prompt:
        prompt[len(prompt) // 2] += 1


def _drop_from_last_prompt(record: dict[str, Any]) -> None:
    prompt = last_item(record)["prompt_token_ids"]
    if prompt:
        del prompt[0]


def _duplicate_key_in_input(record: dict[str, Any]) -> None:
    record["responses_create_params"]["input"][0]["prompt_token_ids"] = [1, 2]


FAULTS = {
    "break": _break_last_prompt,
    "truncated history": _drop_from_last_prompt,
    "float id": _set_id(3.0),
    "negative id": _set_id(-4),
    "id past the vocabulary": _set_id(VOCAB + 5),
    "id past 64 bits": _set_id(2**64 + 1),
    "id past int32": _set_id(2**31),
    "id past int64": _set_id(2**63 + 5),
    "boolean id": _set_id(True),
    "null id": _set_id(None),
    "string id": _set_id("7"),
    "positive logprob": _set_logprob(0.5),
    "zero logprob": _set_logprob(0.0),
    "negative zero logprob": _set_logprob(-0.0),
    "integer logprob": _set_logprob(-3),
    "null logprob": _set_logprob(None),
    "false logprob": _set_logprob(False),
    "string logprob": _set_logprob("-0.5"),
    "logprob missing": lambda r: last_item(r)["generation_log_probs"].pop(),
    "empty generation": lambda r: last_item(r).update(
        generation_token_ids=[], generation_log_probs=[]
    ),
    "token field null": lambda r: last_item(r).update(generation_token_ids=None),
    "token field missing": lambda r: last_item(r).pop("generation_log_probs"),
    "reward missing": lambda r: r.pop("reward"),
    "reward out of range": lambda r: r.update(reward=2.5),
    "reward boolean": lambda r: r.update(reward=True),
    "reward string": lambda r: r.update(reward="1"),
    "reward integer": lambda r: r.update(reward=1),
    "no output": lambda r: r["response"].update(output=[]),
    "output not a list": lambda r: r["response"].update(output={"a": 1}),
    "response missing": lambda r: r.pop("response"),
    "non-object item": lambda r: r["response"]["output"].insert(0, 7),
    "token array elsewhere": _duplicate_key_in_input,
    "big number elsewhere": lambda r: r.update(seed=2**70),
    "unicode text": lambda r: r["responses_create_params"]["input"][0].update(content="héllo ☃"),
}


def _at_array(key: str, insert: bytes):
    """Insert text right after the first ``"key": [`` (either writer's spacing)."""

    def edit(line: bytes) -> bytes:
        for before in (f'"{key}": ['.encode(), f'"{key}":['.encode()):
            if before in line:
                return line.replace(before, before + insert, 1)
        return line

    return edit


# Each text fault edits the written line.
TEXT_FAULTS = {
    "not JSON": lambda line: line[: len(line) // 2],
    "invalid UTF-8": lambda line: line.replace(b'"Weather?"', b'"Weather\xff"'),
    "overflowing number": lambda line: line.replace(b'"reward"', b'"x": 1e400, "reward"'),
    "NaN logprob": _at_array("generation_log_probs", b"NaN, "),
    "leading zero": _at_array("generation_token_ids", b"0"),
    "spaces inside an array": _at_array("prompt_token_ids", b" "),
    "newline in an array": _at_array("generation_token_ids", b"\n"),
    "escaped key": lambda line: line.replace(b'"prompt_token_ids"', b'"prompt\\u005ftoken_ids"', 1),
    "duplicate key": lambda line: line.replace(
        b'"prompt_token_ids"', b'"prompt_token_ids": [1], "prompt_token_ids"', 1
    ),
    "spaced colon": lambda line: line.replace(
        b'"generation_token_ids":', b'"generation_token_ids" :', 1
    ),
}
# JSON whitespace the fast path reads through.
WHITESPACE = {"spaces inside an array", "newline in an array"}
# Edits that the exact path finds nothing in (the fast path may or may not take them).
NOT_FINDINGS = {
    "zero logprob",
    "negative zero logprob",
    "integer logprob",
    "reward integer",
    "non-object item",
    "big number elsewhere",
    "unicode text",
}


def compact(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # an int past 64 bits
        return json.dumps(value, separators=(",", ":")).encode()


def write(record: dict[str, Any], style: str, first_prompt: list[int]) -> bytes:
    if style == "orjson":
        return compact(record)
    if style == "json.dumps":  # NeMo Gym's writer: ", " and ": "
        return json.dumps(record).encode()
    # Turns written by different writers: the byte proof fails, the lists decide.
    return compact(record).replace(compact(first_prompt), json.dumps(first_prompt).encode(), 1)


@st.composite
def rollout_lines(draw: st.DrawFn) -> bytes:
    turns = record_turns(draw)
    logprobs = [
        [draw(st.floats(-30, -1e-6, allow_nan=False)) for _ in generated] for _, generated in turns
    ]
    record = make_record(turns, reward=draw(st.floats(0, 1)), logprobs=logprobs)
    record["responses_create_params"] = {"input": [{"role": "user", "content": "Weather?"}]}
    fault = draw(st.sampled_from([None, *FAULTS]))
    if fault is not None:
        FAULTS[fault](record)
    style = draw(st.sampled_from(["orjson", "json.dumps", "mixed"]))
    line = write(record, style, turns[0][0])
    text_fault = draw(st.sampled_from([None, None, None, *TEXT_FAULTS]))
    if text_fault is not None:
        line = TEXT_FAULTS[text_fault](line)
    return line


def both_paths(path: Path, **options: Any) -> tuple[ScanResult, ScanResult]:
    return scan([path], fast=True, **options), scan([path], fast=False, **options)


def assert_same(fast: ScanResult, exact: ScanResult) -> None:
    fast_report, exact_report = fast.to_report(), exact.to_report()
    assert [f.to_dict() for f in fast_report.findings] == [
        f.to_dict() for f in exact_report.findings
    ]
    assert [(c.id, c.status, c.summary, c.details) for c in fast_report.checks] == [
        (c.id, c.status, c.summary, c.details) for c in exact_report.checks
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(rollout_lines(), min_size=1, max_size=6), blank=st.booleans())
def test_fast_and_exact_paths_find_the_same(tmp_path_factory, lines, blank):
    path = tmp_path_factory.mktemp("differential") / "rollouts.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n\n" if blank else b"\n"))
    assert_same(*both_paths(path))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(rollout_lines(), min_size=1, max_size=4))
def test_fast_and_exact_paths_agree_with_a_tokenizer(tmp_path_factory, qwen3_tokenizer, lines):
    path = tmp_path_factory.mktemp("differential") / "rollouts.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert_same(*both_paths(path, tokenizer=qwen3_tokenizer))


@pytest.mark.parametrize("style", ["orjson", "json.dumps", "mixed"])
def test_clean_lines_take_the_fast_path(qwen3_tokenizer, style):
    record = make_record(tito_turns(qwen3_tokenizer, 3), reward=0.5)
    line = write(record, style, first_item(record)["prompt_token_ids"])
    clean = prove_clean(line, reward_range=(0.0, 1.0), vocab_size=len(qwen3_tokenizer))
    assert clean is not None
    assert (clean.turns, clean.reward) == (3, 0.5)


def real_record(tokenizer: Any) -> dict[str, Any]:
    record = make_record(tito_turns(tokenizer, 3), reward=0.5)
    record["responses_create_params"] = {"input": [{"role": "user", "content": "Weather?"}]}
    return record


@pytest.mark.parametrize("fault", sorted(set(FAULTS) - NOT_FINDINGS))
def test_faulty_records_go_to_the_exact_path(qwen3_tokenizer, fault):
    record = real_record(qwen3_tokenizer)
    FAULTS[fault](record)
    line = json.dumps(record).encode()
    assert prove_clean(line, reward_range=(0.0, 1.0), vocab_size=VOCAB) is None


@pytest.mark.parametrize("fault", sorted(set(TEXT_FAULTS) - WHITESPACE))
def test_unusual_text_goes_to_the_exact_path(qwen3_tokenizer, fault):
    line = TEXT_FAULTS[fault](json.dumps(real_record(qwen3_tokenizer)).encode())
    assert prove_clean(line, reward_range=(0.0, 1.0), vocab_size=VOCAB) is None


@pytest.mark.parametrize("fault", sorted(WHITESPACE))
def test_whitespace_inside_arrays_stays_on_the_fast_path(qwen3_tokenizer, fault):
    line = TEXT_FAULTS[fault](json.dumps(real_record(qwen3_tokenizer)).encode())
    clean = prove_clean(line, reward_range=(0.0, 1.0), vocab_size=VOCAB)
    assert clean is not None and clean.turns == 3
