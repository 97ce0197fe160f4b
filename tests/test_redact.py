"""gymcheck.redact: every form a secret can take in an echo is removed, ordinary text is not."""

from __future__ import annotations

import base64
import html
import json
import urllib.parse
from pathlib import Path

import pytest

from gymcheck import redact
from gymcheck.running import errored

SECRET = "sk-unit-Secr3t/Key+value42"


@pytest.fixture(autouse=True)
def registered():
    redact.add_secret(SECRET)


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        SECRET.upper(),
        SECRET.lower(),
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(b"Bearer " + SECRET.encode()).decode(),
        base64.urlsafe_b64encode(b"ab" + SECRET.encode()).decode(),
        urllib.parse.quote(SECRET, safe=""),
        urllib.parse.quote(SECRET, safe="").lower(),
        urllib.parse.quote_plus(SECRET),
        "".join(f"\\u{ord(c):04x}" for c in SECRET),
        "".join(f"\\u{ord(c):04X}" if k % 2 else c for k, c in enumerate(SECRET)),
        json.dumps(json.dumps({"key": SECRET})),
        html.escape(SECRET),
    ],
)
def test_every_encoding_of_a_given_secret_is_removed(form):
    text = redact.redact(f"upstream said: {form} (end)")
    assert text.startswith("upstream said: ") and text.endswith(" (end)")
    assert "[REDACTED]" in text
    assert SECRET[8:20] not in text and SECRET[8:20].lower() not in text.lower()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abcdefghijkl", "Authorization: Bearer [REDACTED]"),
        ('{"authorization": "Basic dXNlcjpwYXNz"}', '{"authorization": "Basic [REDACTED]"}'),
        ("Cookie: a=b; session=xyz123", "Cookie: [REDACTED]"),
        ("X-Api-Key: zzzzzzzz", "X-Api-Key: [REDACTED]"),
        ("see http://bob:pw123456@host:8000/v1", "see http://[REDACTED]@host:8000/v1"),
        ("key sk-abcdefghijklmnopqrstuv end", "key [REDACTED] end"),
    ],
)
def test_credentials_nobody_gave_are_removed_by_their_shape(text, expected):
    assert redact.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["50% done & more", "http://127.0.0.1:8000/v1", "the authorization header is missing"],
)
def test_ordinary_text_is_left_alone(text):
    assert redact.redact(text) == text


def test_url_userinfo_is_a_secret_everywhere():
    redact.add_url("http://alice:hunter2-long@example.com/v1")
    assert redact.redact("password hunter2-long echoed") == "password [REDACTED] echoed"


def test_a_secret_in_the_environment_is_removed(monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-from-env-987654")
    assert redact.redact("got tok-from-env-987654") == "got [REDACTED]"


def test_clip_redacts_before_cutting():
    text = "x" * 10 + SECRET
    assert redact.clip(text, 20) == ("x" * 10 + "[REDACTED]")[:20]


def test_the_traceback_log_is_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    try:
        raise RuntimeError(f"server said Bearer {SECRET}")
    except RuntimeError as exc:
        result = errored("http_endpoint", exc)
    text = Path(result.details["log"]).read_text(encoding="utf-8")
    assert "RuntimeError" in text and SECRET not in text
