"""The scan's fast path against the exact path: the same findings on generated files, clean and
faulty (hypothesis), and the fast path really taking the clean lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rollout_builders import make_record, tito_turns

from gymcheck import bytescan
from gymcheck.fastscan import prove_clean
from gymcheck.rollout import TOKEN_FIELDS
from gymcheck.scan import ScanResult, scan

VOCAB = 151_669  # Qwen3's, so that the tokenizer runs can flag ids past it

# The fast path validates token text with the C extension or, where it was not built, with
# the pure-Python fallback: every test here runs with both.
VALIDATORS = {
    "compiled": (bytescan.array_spans, bytescan.id_array, bytescan.logprob_array),
    "python": (
        bytescan.python_array_spans,
        bytescan.python_id_array,
        bytescan.python_logprob_array,
    ),
}
with_both_validators = pytest.mark.parametrize("validators", sorted(VALIDATORS))


@contextmanager
def validating_with(name: str) -> Iterator[None]:
    array_spans, id_array, logprob_array = VALIDATORS[name]
    with patch.multiple(
        bytescan, array_spans=array_spans, id_array=id_array, logprob_array=logprob_array
    ):
        yield


@pytest.fixture
def validators(request: pytest.FixtureRequest) -> Iterator[str]:
    with validating_with(request.param):
        yield request.param


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


def _before_close(key: str, insert: bytes):
    """Insert text right before the ``]`` of the first ``key`` array."""

    def edit(line: bytes) -> bytes:
        at = line.find(f'"{key}"'.encode())
        if at < 0:
            return line
        close = line.find(b"]", at)
        return line[:close] + insert + line[close:]

    return edit


def _respace_first_prompt_key(line: bytes) -> bytes:
    """The first output item's prompt key spaced as no writer does (two spaces)."""
    at = line.find(b'"output"')
    for before in (b'"prompt_token_ids": [', b'"prompt_token_ids":['):
        found = line.find(before, at)
        if found >= 0:
            return line[:found] + b'"prompt_token_ids":  [' + line[found + len(before) :]
    return line


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
    # A token array whose key the fast path does not locate, and another one it does, in
    # its place: the fields must still get the arrays the exact path reads.
    "respaced key, an array elsewhere": lambda line: _respace_first_prompt_key(
        line.replace(b'"response":', b'"prompt_token_ids": [1, 2], "response":', 1)
    ),
    "escaped logprob key": lambda line: line.replace(
        b'"generation_log_probs"', b'"generation\\u005flog_probs"', 1
    ),
    "duplicate logprob key": lambda line: line.replace(
        b'"generation_log_probs"', b'"generation_log_probs": [-1], "generation_log_probs"', 1
    ),
    "marker text in a string": lambda line: line.replace(b'"Weather?"', b'"\\u0000"'),
    "marker text in an array": _at_array("generation_token_ids", b'"\\u0000", 0, '),
    "nested array": _at_array("generation_token_ids", b"[1], "),
    "string in an array": _at_array("generation_token_ids", b'"a]", '),
    "overflowing logprob": _at_array("generation_log_probs", b"-1e400, "),
    "positive exponent logprob": _at_array("generation_log_probs", b"-1E+2, "),
    "underflowing positive logprob": _at_array("generation_log_probs", b"1e-400, "),
    "leading zero logprob": _at_array("generation_log_probs", b"-01.5, "),
    "trailing comma in logprobs": _before_close("generation_log_probs", b","),
    "trailing comma in a prompt": _before_close("prompt_token_ids", b", "),
    "id past the bound on the text": _at_array("generation_token_ids", b"4294967296, "),
    "signed zero id": _at_array("generation_token_ids", b"-0, "),
    "spaces inside log-probs": _at_array("generation_log_probs", b" \t"),
    "spaces around a generation": lambda line: _before_close("generation_token_ids", b" \r\n")(
        _at_array("generation_token_ids", b"\t")(line)
    ),
}
# JSON whitespace the fast path reads through.
WHITESPACE = {
    "spaces inside an array",
    "newline in an array",
    "spaces inside log-probs",
    "spaces around a generation",
}
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


@pytest.mark.parametrize("name", sorted(VALIDATORS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(rollout_lines(), min_size=1, max_size=6), blank=st.booleans())
def test_fast_and_exact_paths_find_the_same(tmp_path_factory, name, lines, blank):
    path = tmp_path_factory.mktemp("differential") / "rollouts.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n\n" if blank else b"\n"))
    with validating_with(name):
        assert_same(*both_paths(path))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@pytest.mark.parametrize("name", sorted(VALIDATORS))
@given(lines=st.lists(rollout_lines(), min_size=1, max_size=4))
def test_fast_and_exact_paths_agree_with_a_tokenizer(
    tmp_path_factory, qwen3_tokenizer, name, lines
):
    path = tmp_path_factory.mktemp("differential") / "rollouts.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with validating_with(name):
        assert_same(*both_paths(path, tokenizer=qwen3_tokenizer))


@with_both_validators
@pytest.mark.parametrize("style", ["orjson", "json.dumps", "mixed"])
def test_clean_lines_take_the_fast_path(qwen3_tokenizer, validators, style):
    record = make_record(tito_turns(qwen3_tokenizer, 3), reward=0.5)
    line = write(record, style, first_item(record)["prompt_token_ids"])
    clean = prove_clean(line, reward_range=(0.0, 1.0), vocab_size=len(qwen3_tokenizer))
    assert clean is not None
    assert (clean.turns, clean.reward) == (3, 0.5)


def real_record(tokenizer: Any) -> dict[str, Any]:
    record = make_record(tito_turns(tokenizer, 3), reward=0.5)
    record["responses_create_params"] = {"input": [{"role": "user", "content": "Weather?"}]}
    return record


@with_both_validators
@pytest.mark.parametrize("fault", sorted(set(FAULTS) - NOT_FINDINGS))
def test_faulty_records_go_to_the_exact_path(qwen3_tokenizer, validators, fault):
    record = real_record(qwen3_tokenizer)
    FAULTS[fault](record)
    line = json.dumps(record).encode()
    assert prove_clean(line, reward_range=(0.0, 1.0), vocab_size=VOCAB) is None


@with_both_validators
@pytest.mark.parametrize("fault", sorted(set(TEXT_FAULTS) - WHITESPACE))
def test_unusual_text_goes_to_the_exact_path(qwen3_tokenizer, validators, fault):
    line = TEXT_FAULTS[fault](json.dumps(real_record(qwen3_tokenizer)).encode())
    assert prove_clean(line, reward_range=(0.0, 1.0), vocab_size=VOCAB) is None


@with_both_validators
@pytest.mark.parametrize("fault", sorted(WHITESPACE))
def test_whitespace_inside_arrays_stays_on_the_fast_path(qwen3_tokenizer, validators, fault):
    line = TEXT_FAULTS[fault](json.dumps(real_record(qwen3_tokenizer)).encode())
    clean = prove_clean(line, reward_range=(0.0, 1.0), vocab_size=VOCAB)
    assert clean is not None and clean.turns == 3


@with_both_validators
@pytest.mark.parametrize("zero", [0, 0.0, -0.0])
def test_zero_logprobs_stay_on_the_fast_path(qwen3_tokenizer, validators, zero):
    # Engines return a log-prob of exactly 0 for a token of probability 1 (often, in
    # confident text): no finding, so it must not cost the exact path.
    record = real_record(qwen3_tokenizer)
    first_item(record)["generation_log_probs"][0] = zero
    clean = prove_clean(json.dumps(record).encode(), reward_range=(0.0, 1.0), vocab_size=VOCAB)
    assert clean is not None and clean.turns == 3


@with_both_validators
def test_token_arrays_are_not_parsed(qwen3_tokenizer, validators, monkeypatch):
    # orjson only sees the skeleton: every token array's text is replaced by a marker.
    record = real_record(qwen3_tokenizer)
    line = json.dumps(record).encode()
    parsed: list[bytes] = []
    loads = orjson.loads
    monkeypatch.setattr(orjson, "loads", lambda text: parsed.append(text) or loads(text))
    assert prove_clean(line, reward_range=(0.0, 1.0), vocab_size=VOCAB) is not None
    items = [i for i in record["response"]["output"] if "prompt_token_ids" in i]
    fields = [(item, key) for item in items for key in TOKEN_FIELDS]
    for index, (item, key) in enumerate(fields):
        item[key] = ["\x00", index]
    assert [loads(text) for text in parsed] == [record]
