"""Exact verdicts on bad values: every id and logprob is checked, whatever its position, and
literals that Python's json writes (NaN, Infinity) are findings at their position, not "not
JSON"."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_records import clean_record, line, second_item, with_literal

from gymcheck.checks.records import check_record
from gymcheck.scan import scan_rollouts


def scan_lines(tmp_path: Path, *lines: bytes) -> list[tuple[str, int | None, int | None, str]]:
    path = tmp_path / "rollouts.jsonl"
    path.write_bytes(b"".join(lines))
    report = scan_rollouts([path])
    return [(f.code, f.line, f.token_index, f.message) for f in report.findings]


def test_clean_record_has_no_findings():
    assert check_record(clean_record()) == []


@pytest.mark.parametrize(
    ("value", "what"),
    [(12345.5, "number 12345.5"), (True, "boolean True"), (7.0, "number 7.0"), (None, "null")],
)
def test_a_non_integer_anywhere_among_the_ids_is_a_schema_finding(value, what):
    # Not the minimum, not the first: the old fast path only typed min(ids).
    record = clean_record()
    second_item(record)["generation_token_ids"][2] = value
    [finding] = check_record(record)
    assert (finding.code, finding.turn) == ("schema", 2)
    assert f"generation_token_ids[2] is {what}" in finding.message
    assert finding.token_index == 15 + 2


def test_an_id_past_64_bits_is_out_of_range_without_a_tokenizer(tmp_path):
    record = clean_record()
    second_item(record)["generation_token_ids"][1] = "HUGE"
    [(code, number, token_index, message)] = scan_lines(
        tmp_path, line(clean_record()), with_literal(record, "HUGE", str(2**70))
    )
    assert (code, number, token_index) == ("token_id_out_of_range", 2, 15 + 1)
    assert str(2**70) in message and "int32" in message


def test_an_id_past_int32_is_out_of_range_without_a_tokenizer():
    record = clean_record()
    second_item(record)["prompt_token_ids"][-1] = 2**40
    [finding] = check_record(record)
    assert (finding.code, finding.turn, finding.token_index) == ("token_id_out_of_range", 2, 14)


def test_a_negative_id_that_is_not_the_first_is_out_of_range():
    record = clean_record()
    second_item(record)["generation_token_ids"][3] = -4
    [finding] = check_record(record)
    assert (finding.code, finding.token_index) == ("token_id_out_of_range", 15 + 3)
    assert finding.details["token_id"] == -4


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_logprob_literal_is_logprobs_invalid_at_its_position(tmp_path, literal):
    record = clean_record()
    second_item(record)["generation_log_probs"][2] = "BAD"
    findings = scan_lines(tmp_path, line(clean_record()), with_literal(record, "BAD", literal))
    [(code, number, token_index, message)] = findings
    assert (code, number, token_index) == ("logprobs_invalid", 2, 15 + 2)
    assert "generation_log_probs[2]" in message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_reward_literal_is_reward_invalid(tmp_path, literal):
    record = clean_record(reward="BAD")
    [(code, number, _, message)] = scan_lines(tmp_path, with_literal(record, "BAD", literal))
    assert (code, number) == ("reward_invalid", 1)
    assert "not finite" in message


def test_a_boolean_logprob_is_logprobs_invalid():
    record = clean_record()
    second_item(record)["generation_log_probs"][1] = False
    [finding] = check_record(record)
    assert (finding.code, finding.token_index) == ("logprobs_invalid", 15 + 1)
    assert "generation_log_probs[1] = boolean" in finding.message


@pytest.mark.parametrize(("item", "kind"), [("oops", "string"), (3, "number"), ([1], "array")])
def test_a_non_object_output_item_is_a_schema_finding(item, kind):
    record = clean_record()
    record["response"]["output"].insert(1, item)
    [finding] = check_record(record)
    assert finding.code == "schema"
    assert f"response.output[1], a JSON {kind}" in finding.message
    assert finding.details == {"count": 1, "output_index": 1}


def test_not_json_stays_schema_with_its_line(tmp_path):
    findings = scan_lines(tmp_path, line(clean_record()), b'{"reward": 1, "response": \n')
    assert [(code, number) for code, number, _, _ in findings] == [("schema", 2)]


@pytest.mark.parametrize(
    ("field", "literal", "code"),
    [
        ("generation_token_ids", "true", "schema"),
        ("prompt_token_ids", "false", "schema"),
        ("generation_log_probs", "false", "logprobs_invalid"),
    ],
)
def test_a_boolean_in_a_list_is_found_on_the_fast_path_too(tmp_path, field, literal, code):
    # The line holds member booleans too ("strict": true), as NeMo Gym's tool definitions do.
    record = clean_record(strict=True, parallel_tool_calls=False)
    second_item(record)[field][1] = "BOOL"
    findings = scan_lines(tmp_path, with_literal(record, "BOOL", literal))
    assert [(c, number) for c, number, _, _ in findings] == [(code, 1)]


def test_member_booleans_alone_leave_a_record_clean(tmp_path):
    assert scan_lines(tmp_path, line(clean_record(strict=True, other=False))) == []
