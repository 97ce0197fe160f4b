"""Bad flags are usage errors: exit 2 and one line, before anything is contacted."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gymcheck.cli import app

GOOD_URL = "http://127.0.0.1:9/v1"


def one_line(output: str) -> str:
    lines = [text for text in output.splitlines() if text.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-3"])
def test_a_timeout_that_is_not_finite_and_positive_is_exit_2(value):
    result = CliRunner().invoke(app, ["endpoint", "--base-url", GOOD_URL, "--timeout", value])
    assert result.exit_code == 2
    assert "--timeout takes a finite number of seconds > 0" in one_line(result.output)


@pytest.mark.parametrize(
    ("command", "flag", "url", "words"),
    [
        ("endpoint", "--base-url", "not a url", "is not a URL"),
        ("endpoint", "--base-url", "localhost:8000", "is not a URL"),
        ("endpoint", "--base-url", "ftp://host/v1", "unsupported scheme 'ftp'"),
        ("validate", "--base-url", "http://", "is not a URL"),
        ("validate", "--gym-url", "file:///etc/passwd", "unsupported scheme 'file'"),
    ],
)
def test_a_malformed_or_unsupported_url_is_exit_2(command, flag, url, words):
    result = CliRunner().invoke(app, [command, flag, url])
    assert result.exit_code == 2
    assert words in one_line(result.output)


def test_a_url_in_a_usage_error_shows_no_password():
    result = CliRunner().invoke(app, ["endpoint", "--base-url", "ftp://bob:hunter2-pw@host/v1"])
    assert result.exit_code == 2
    assert "hunter2-pw" not in result.output
    assert "ftp://[REDACTED]@host/v1" in result.output
