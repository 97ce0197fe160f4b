"""``gymcheck.testing.assert_integration``: a user's CI asserting their processor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import batch_processors as bp
import pytest
import rollout_builders as rb

from gymcheck.report import Status
from gymcheck.testing import assert_integration


@pytest.fixture(scope="module")
def rollouts(tmp_path_factory: pytest.TempPathFactory, qwen3_tokenizer: Any) -> Path:
    record = rb.make_record(rb.tito_turns(qwen3_tokenizer, 2))
    path = tmp_path_factory.mktemp("ci") / "rollouts.jsonl"
    path.write_text(json.dumps(record) + "\n")
    return path


def test_a_faithful_processor_passes(rollouts: Path, qwen3_dir: Path) -> None:
    result = assert_integration(rollouts, bp.verl, tokenizer=str(qwen3_dir))
    assert result.status is Status.PASS


def test_a_failure_prints_the_findings_as_the_console_does(rollouts: Path, qwen3_dir: Path) -> None:
    with pytest.raises(AssertionError) as raised:
        assert_integration(rollouts, bp.verl_eos_dropped, tokenizer=str(qwen3_dir))
    text = str(raised.value)
    assert "Testing the trainer's processed samples" in text
    assert "batch_mask_missing_generation" in text
    assert "<|im_end|>" in text
    assert "verl's response_mask" in text
