"""Secrets never leave the process: one ``redact`` that every output passes through.

The renderers (JSON, JUnit, HTML) call it on what they produce, the consoles write through
``RedactingStream``, the traceback logs are redacted before they are written, and text is
redacted before it is shortened for a message (``clip``). It removes

- every secret gymcheck was given (``add_secret``: API keys; ``add_url``: URL userinfo) or can
  see (environment variables whose names end like a credential: ``HF_TOKEN``, ``*_API_KEY``,
  ``*_SECRET``, ``*_PASSWORD``), in the forms a
  server that echoes them produces: any letter case, ``%``-encoded, ``\\u``-escaped or
  JSON-escaped (each character in any of these forms, mixed), HTML/XML-escaped, and base64
  (inside any base64 text, at any alignment);
- what looks like a credential although nobody gave it: ``Authorization``, ``Cookie`` and
  API-key header values, bearer and basic tokens, URL userinfo, ``sk-``/``hf_`` keys.
"""

from __future__ import annotations

import base64
import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

REDACTED = "[REDACTED]"

MIN_SECRET_LENGTH = 6
"""Shorter values (a user name like ``bob``) would blank out ordinary words."""

_SECRET_ENV_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|COOKIE|AUTH)$", re.I
)
"""Names that end like a credential (``OPENAI_API_KEY``, ``HF_TOKEN``), not ones that merely
contain the word (``TOKENIZERS_PARALLELISM``, ``SSH_AUTH_SOCK``)."""
MIN_ENV_SECRET_LENGTH = 8

_TOKEN_CHARS = r"[A-Za-z0-9._~+/=-]"
_GENERIC = (
    # Header values: Authorization, Proxy-Authorization, X-Api-Key, api_key=..., as a header
    # line, a JSON member or a query parameter; any scheme word before the credential is kept.
    r"(?P<header>\b(?:proxy-)?authorization|\bx-api-key|\bapi[-_]?key)"
    r"(?P<sep>[\"'\\]*\s*[:=]\s*[\"'\\]*)(?P<scheme>(?:bearer|basic|token)\s+)?"
    r"[^\s\"'\\,;&]+",
    # Cookie and Set-Cookie: every name=value pair of the header.
    r"(?P<cookie>\b(?:set-)?cookie)(?P<csep>[\"'\\]*\s*[:=]\s*[\"'\\]*)"
    r"[^=;\s\"'\\]+=[^;\s\"'\\]*(?:;\s?[^=;\s\"'\\]+=[^;\s\"'\\]*)*",
    rf"(?P<bearer>\b(?:bearer|basic)\s+){_TOKEN_CHARS}{{8,}}",
    r"(?P<userinfo>\b[a-z][a-z0-9+.-]*://)[^/\s:@\"'\\]+(?::[^/\s@\"'\\]*)?@",
    r"\bsk-[A-Za-z0-9_-]{16,}",
    r"\bhf_[A-Za-z0-9]{20,}",
)
_GENERIC_KEYWORDS = ("auth", "api", "cookie", "bearer", "basic", "://", "sk-", "hf_")

_HTML_ENTITIES = {"&": ("&amp;",), "<": ("&lt;",), ">": ("&gt;",), '"': ("&quot;", "&#34;")}
_HTML_ENTITIES["'"] = ("&#x27;", "&#39;", "&apos;")

_given: set[str] = set()
_compiled: tuple[frozenset[str], re.Pattern[str], tuple[str, ...]] | None = None
_environment: tuple[int, frozenset[str]] | None = None
"""The environment's secrets, read again when a variable is added or removed."""


def add_secret(value: str | None) -> None:
    """Redact ``value`` (and its encodings) from every output from now on."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _given.add(value)


def add_url(url: str | None) -> None:
    """Redact the userinfo of ``url`` (``user:password@``): the password and the pair."""
    if not url:
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        add_secret(unquote(parts.password))
        add_secret(parts.password)
        add_secret(f"{unquote(parts.username or '')}:{unquote(parts.password)}")
    elif parts.username:
        add_secret(unquote(parts.username))


def _environment_secrets() -> set[str]:
    return {
        value
        for name, value in os.environ.items()
        if _SECRET_ENV_NAME.search(name) and len(value) >= MIN_ENV_SECRET_LENGTH
    }


def _char_forms(char: str) -> str:
    """A regex for one character of a secret, in any of the encodings a server may use."""
    code = ord(char)
    forms = [re.escape(char)]
    if code < 0x10000:
        forms.append(rf"\\+u{code:04x}")
    if code < 0x80:
        forms.append(f"%{code:02x}")
        if char in '"\\/':
            forms.append(r"\\+" + re.escape(char))
        forms.extend(re.escape(entity) for entity in _HTML_ENTITIES.get(char, ()))
    if char == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


def _base64_cores(secret: bytes) -> set[str]:
    """The base64 characters that depend on ``secret`` alone, for each of the 3 alignments it
    can have inside longer base64 text (standard and URL-safe alphabets)."""
    cores = set()
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + secret).decode()
            start_bit, end_bit = 8 * shift, 8 * (shift + len(secret))
            first = -(-start_bit // 6)
            last = end_bit // 6  # characters [first, last) hold only the secret's bits
            core = text[first:last]
            if len(core) >= 8:
                cores.add(core)
    return cores


def _pattern() -> tuple[re.Pattern[str], tuple[str, ...]]:
    """The compiled pattern for the current secrets, and the cheap substrings that gate it."""
    global _compiled, _environment
    if _environment is None or _environment[0] != len(os.environ):
        _environment = (len(os.environ), frozenset(_environment_secrets()))
    secrets = frozenset(_given | _environment[1])
    if _compiled is not None and _compiled[0] == secrets:
        return _compiled[1], _compiled[2]
    alternatives: list[str] = []
    keywords: set[str] = set(_GENERIC_KEYWORDS) | {"\\u", "%", "&"}
    # Longest first: a secret that contains another is removed whole.
    for secret in sorted(secrets, key=len, reverse=True):
        alternatives.append("".join(_char_forms(c) for c in secret))
        keywords.add(secret[:4].lower())
        for core in _base64_cores(secret.encode()):
            alternatives.append(re.escape(core))
            keywords.add(core[:4].lower())
    alternatives.extend(_GENERIC)
    pattern = re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)
    _compiled = (secrets, pattern, tuple(keywords))
    return pattern, _compiled[2]


def _replace(match: re.Match[str]) -> str:
    groups = match.groupdict()
    if groups.get("header"):
        return groups["header"] + groups["sep"] + (groups["scheme"] or "") + REDACTED
    if groups.get("cookie"):
        return groups["cookie"] + groups["csep"] + REDACTED
    for name in ("bearer", "userinfo"):
        if groups.get(name):
            return groups[name] + REDACTED + ("@" if name == "userinfo" else "")
    return REDACTED


def redact(text: str) -> str:
    """``text`` with every secret (section above) replaced by ``[REDACTED]``."""
    pattern, keywords = _pattern()
    lowered = text.lower()
    if not any(keyword in lowered for keyword in keywords):
        return text
    return pattern.sub(_replace, text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters for a message, redacted first: a cut through a
    secret would leave a part of it that no pattern recognizes."""
    return redact(text)[:limit]


class RedactingStream:
    """A text stream that redacts what is written to it and passes the rest through.

    ``target`` is called at each write, so a stream swapped in later (pytest's capture,
    click's test runner) is the one written to.
    """

    def __init__(self, target: Callable[[], TextIO]) -> None:
        self._target = target

    def write(self, text: str) -> int:
        self._target().write(redact(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for text in lines:
            self.write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self._target().isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


def stdout() -> TextIO:
    return sys.stdout


def stderr() -> TextIO:
    return sys.stderr


def install_on_std_streams() -> None:
    """Redact everything the process prints, third-party output and tracebacks included."""
    if not isinstance(sys.stdout, RedactingStream):
        real_out, real_err = sys.stdout, sys.stderr
        sys.stdout = RedactingStream(lambda: real_out)  # type: ignore[assignment]
        sys.stderr = RedactingStream(lambda: real_err)  # type: ignore[assignment]
