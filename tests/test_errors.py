"""Every error gymcheck raises on purpose is a ``GymcheckError``; those a caller may catch as
``ValueError`` stay one too."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from gymcheck.checks.logprobs import agreement_metrics
from gymcheck.errors import GymcheckError
from gymcheck.gym_routing import parse_instances
from gymcheck.jsonl import iter_lines
from gymcheck.monitor import check_batch, logprob_metrics


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: logprob_metrics([0.0], [0.0, 1.0]), "same number"),
        (lambda: check_batch([{}], []), "0 samples for 1 rollouts"),
        (lambda: agreement_metrics([0.0], [0.0, 1.0]), "1 engine log-probs for 2"),
        (lambda: parse_instances("nope"), "did not answer with a list"),
    ],
)
def test_value_errors_are_gymcheck_errors(call, needle: str) -> None:
    with pytest.raises(GymcheckError, match=needle) as caught:
        call()
    assert isinstance(caught.value, ValueError)


def test_a_byte_range_of_a_compressed_file_is_a_gymcheck_error(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl.gz"
    path.write_bytes(gzip.compress(b"{}\n"))
    with pytest.raises(GymcheckError, match="no byte ranges") as caught:
        list(iter_lines(path, 0, 2))
    assert isinstance(caught.value, ValueError)
