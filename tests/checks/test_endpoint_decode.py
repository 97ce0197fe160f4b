"""The ``decode`` sub-check on real Qwen3 ids: a character the engine withheld is an ``info``.

Qwen3 spells the llama emoji in " 🦙" as three byte-level tokens (" \\xf0\\x9f", "\\xa6", "\\x99"),
so ids that stop after the first of them decode to "Hello �". vLLM's incremental detokenizer
then returns "Hello": it never emits a character whose UTF-8 bytes are incomplete.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gymcheck.checks.endpoint.decode import WITHHELD_CODE, check_decode, emitted_count
from gymcheck.checks.endpoint.probe import Completion, Probe
from gymcheck.openai_client import OpenAIClient
from gymcheck.render.words import step_text
from gymcheck.report import Status
from gymcheck.tokeninfo import TokenInfo

# Nothing listens here: check_decode makes no call.
UNUSED_URL = "http://127.0.0.1:9/v1"


@pytest.fixture
def client() -> Iterator[OpenAIClient]:
    with OpenAIClient(UNUSED_URL) as opened:
        yield opened


@pytest.fixture(scope="module")
def llama_ids(qwen3_tokenizer: Any) -> list[int]:
    ids = qwen3_tokenizer.encode("Hello 🦙", add_special_tokens=False)
    # The test's premise, from the real tokenizer: the emoji's bytes span the last three ids.
    assert [qwen3_tokenizer.decode(ids[:n]) for n in range(1, len(ids) + 1)] == [
        "Hello",
        "Hello \ufffd",
        "Hello \ufffd",
        "Hello 🦙",
    ]
    return ids


def decode_step(client: OpenAIClient, tokenizer: Any, ids: list[int], content: str) -> Probe:
    probe = Probe(client=client, timeout=1.0, tokenizer=tokenizer, tokenizer_note="Qwen3")
    probe.record("token_info", Status.PASS, "served in form 2")
    body = {"choices": [{"message": {"role": "assistant", "content": content}}]}
    probe.chat = Completion(
        request={},
        body=body,
        seconds=0.0,
        info=TokenInfo("return_token_ids", [1, 2], ids, [-0.5] * len(ids)),
    )
    check_decode(probe)
    return probe


def decode_status(probe: Probe) -> tuple[Status, str]:
    step = next(s for s in probe.steps if s.name == "decode")
    return step.status, step_text("http_endpoint", step)


def test_emitted_count_stops_before_the_incomplete_character(
    qwen3_tokenizer: Any, llama_ids: list[int]
) -> None:
    assert emitted_count(qwen3_tokenizer, llama_ids[:2]) == 1
    assert emitted_count(qwen3_tokenizer, llama_ids[:3]) == 1
    assert emitted_count(qwen3_tokenizer, llama_ids) == len(llama_ids)


@pytest.mark.parametrize("held", [1, 2])
def test_a_withheld_trailing_character_passes_with_an_info_finding(
    client: OpenAIClient, qwen3_tokenizer: Any, llama_ids: list[int], held: int
) -> None:
    ids = llama_ids[: 1 + held]
    probe = decode_step(client, qwen3_tokenizer, ids, "Hello")
    status, message = decode_status(probe)
    assert status is Status.PASS
    assert f"except the last {held} (' \ufffd')" in message
    [finding] = probe.findings
    assert (finding.code, finding.severity) == (WITHHELD_CODE, "info")
    assert finding.details == {"withheld_ids": ids[1:]}
    assert "rebuilds the next prompt from the returned text loses those bytes" in finding.message
    assert "token-in-token-out" in finding.message
    assert probe.details["decode"]["withheld_text"] == " \ufffd"


@pytest.mark.parametrize(
    ("take", "content"),
    [
        (4, "Hello"),  # the emoji is complete: its loss is not the detokenizer's doing
        (2, "Help"),  # the text before the partial character differs too
        (2, "Hello \ufffd!"),  # more text than the ids hold
        (1, "Hell"),  # nothing withheld, text cut short
    ],
)
def test_any_other_difference_still_fails(
    client: OpenAIClient, qwen3_tokenizer: Any, llama_ids: list[int], take: int, content: str
) -> None:
    probe = decode_step(client, qwen3_tokenizer, llama_ids[:take], content)
    status, message = decode_status(probe)
    assert status is Status.FAIL, message
    assert "gives different text from character" in message
    assert [f.code for f in probe.findings] == ["endpoint_decode"]


def test_the_full_text_passes_without_a_finding(
    client: OpenAIClient, qwen3_tokenizer: Any, llama_ids: list[int]
) -> None:
    probe = decode_step(client, qwen3_tokenizer, llama_ids[:2], "Hello \ufffd")
    assert decode_status(probe) == (
        Status.PASS,
        "Decode: the 2 generated ids decode to the returned text",
    )
    assert probe.findings == []
