"""Fuzzing the rollout parser and the record checks: arbitrary bytes and arbitrary JSON shapes.
No exception escapes, and every non-blank line gets a verdict (a clean record or findings).
Bounded for CI by max_examples (60 per target) and a per-example deadline."""

from __future__ import annotations

import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gymcheck.checks.records import check_record
from gymcheck.compressed import compression
from gymcheck.scan import scan

# DESIGN.md section 4: every record-level code (continuity_break is not one).
RECORD_CODES = {
    "schema",
    "reward_invalid",
    "no_trainable_output",
    "empty_generation",
    "logprobs_length_mismatch",
    "logprobs_invalid",
    "token_id_out_of_range",
}

FUZZ = settings(
    max_examples=60,
    deadline=10_000,  # generous: a loaded CI machine must not make an example "too slow"
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
id_lists = st.one_of(
    st.lists(st.integers(min_value=0, max_value=200), max_size=12),
    st.lists(st.one_of(st.integers(min_value=-5, max_value=2**70), scalars), max_size=8),
    json_values,
)
logprob_lists = st.one_of(
    st.lists(st.floats(max_value=0.0, allow_nan=False), max_size=12),
    st.lists(scalars, max_size=8),
    json_values,
)
items = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["message", "function_call", "reasoning"]),
            "prompt_token_ids": id_lists,
            "generation_token_ids": id_lists,
            "generation_log_probs": logprob_lists,
        },
    ),
    st.fixed_dictionaries({"type": st.just("function_call_output"), "output": st.text(max_size=8)}),
    json_values,
)
records = st.one_of(
    st.fixed_dictionaries(
        {
            "response": st.one_of(
                st.fixed_dictionaries({"output": st.lists(items, max_size=5)}), json_values
            ),
            "reward": st.one_of(st.floats(allow_nan=True, allow_infinity=True), scalars),
        }
    ),
    json_values,
)


def scan_bytes(data: bytes) -> tuple[int, dict[str, Any]] | None:
    """The collection check's findings and details; ``None`` for bytes that start like a
    compressed stream (read as one, their verdict is the stream's, not one per line)."""
    if compression(io.BytesIO(data)) is not None:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "fuzz.jsonl"
        path.write_bytes(data)
        collection, _ = scan([path]).results()
        return collection.findings_total, collection.details


def verdict_per_line(data: bytes) -> None:
    scanned = scan_bytes(data)
    if scanned is None:
        return
    total, details = scanned
    lines = [line for line in data.split(b"\n") if line and not line.isspace()]
    assert details["rollouts"] == len(lines)
    bad = details["rollouts"] - details["rollouts_clean"]
    assert total >= bad  # every rollout that is not clean has at least one finding
    if not lines:
        assert details["codes"] == {"schema": 1}  # the empty-file finding


@FUZZ
@given(st.lists(st.binary(max_size=60), max_size=6))
def test_arbitrary_bytes_get_a_verdict_per_line(chunks):
    verdict_per_line(b"\n".join(chunks))


@FUZZ
@given(st.lists(records, min_size=1, max_size=4))
def test_arbitrary_json_shapes_get_a_verdict_per_line(values):
    # Python's json writes NaN and Infinity literals, as NeMo Gym can.
    data = b"".join(json.dumps(v, allow_nan=True).encode() + b"\n" for v in values)
    verdict_per_line(data)


@FUZZ
@given(records)
def test_the_record_checks_return_known_codes(record):
    for finding in check_record(record):
        assert finding.code in RECORD_CODES
        assert finding.message


@FUZZ
@given(records, st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=3))
def test_a_record_cut_or_corrupted_anywhere_gets_a_verdict(record, cut, junk):
    text = json.dumps(record, allow_nan=True).encode()
    verdict_per_line(text[: cut % (len(text) + 1)] + junk + b"\n" + text + b"\n")


def test_the_fuzzed_literals_reach_the_checks():
    # NaN in a logprob list is a finding, not a crash and not "not JSON".
    record = {
        "response": {
            "output": [
                {
                    "prompt_token_ids": [1],
                    "generation_token_ids": [2],
                    "generation_log_probs": [math.nan],
                }
            ]
        },
        "reward": 1.0,
    }
    scanned = scan_bytes(json.dumps(record).encode() + b"\n")
    assert scanned is not None
    total, details = scanned
    assert (total, details["codes"]) == (1, {"logprobs_invalid": 1})
