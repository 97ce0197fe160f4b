"""What the sub-checks share: the client, the steps so far, what earlier steps learned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gymcheck.checks.endpoint.fixes import FIXES
from gymcheck.openai_client import EndpointCallError, OpenAIClient
from gymcheck.report import Finding, Status, Step
from gymcheck.tokeninfo import TokenInfo

# The sub-checks, in the order they run (their words: ``gymcheck.render.words.endpoint``).
STEP_NAMES: tuple[str, ...] = (
    "models",
    "chat",
    "tool_calls",
    "token_info",
    "counts",
    "max_tokens",
    "tokenize",
    "decode",
    "multi_turn",
    "top_logprobs_null",
    "bad_request",
    "burst",
)

FORM_NAMES: dict[str, str] = {
    "message_fields": "form 1 (message_fields: prompt_token_ids, generation_token_ids and "
    "generation_log_probs on choices[0].message, as NeMo RL's server)",
    "return_token_ids": "form 2 (return_token_ids: top-level prompt_token_ids + "
    "choices[0].token_ids, as vLLM with return_token_ids)",
    "token_id_strings": "form 3 (token_id_strings: logprobs tokens 'token_id:<id>', prompt ids "
    "from /tokenize, as vLLM with --return-tokens-as-token-ids)",
}


@dataclass(slots=True)
class Completion:
    """A chat completion the probes got, with the request that produced it."""

    request: dict[str, Any]
    body: Mapping[str, Any]
    seconds: float
    info: TokenInfo | None = None
    prompt_ids: list[int] | None = None
    """From the completion (forms 1, 2) or ``/tokenize`` (form 3)."""

    @property
    def choice(self) -> Mapping[str, Any]:
        choices = self.body.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        return first if isinstance(first, Mapping) else {}

    @property
    def message(self) -> Mapping[str, Any]:
        message = self.choice.get("message")
        return message if isinstance(message, Mapping) else {}

    @property
    def usage(self) -> Mapping[str, Any] | None:
        usage = self.body.get("usage")
        return usage if isinstance(usage, Mapping) else None


@dataclass(slots=True)
class Probe:
    client: OpenAIClient
    timeout: float
    model: str = ""
    model_root: str | None = None
    tokenizer: Any = None
    tokenizer_note: str = ""
    dead: str | None = None
    """Why later network steps are skipped: the server is unreachable or hangs."""
    chat: Completion | None = None
    tool_turn: Completion | None = None
    tokenize_available: bool | None = None
    steps: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def record(
        self,
        name: str,
        status: Status,
        message: str,
        *,
        fix: str | None = None,
        finding: Finding | None = None,
    ) -> Status:
        """Add the step, with ``message`` as its detail; failures and warnings also become
        findings."""
        self.steps.append(Step(name=name, status=status, data={"detail": message}))
        if finding is not None:
            self.findings.append(finding)
        elif status in (Status.FAIL, Status.WARN):
            self.findings.append(
                Finding(
                    code=f"endpoint_{name}",
                    message=message,
                    severity="error" if status is Status.FAIL else "warning",
                    fix=fix,
                )
            )
        return status

    def status_of(self, name: str) -> Status | None:
        return next((s.status for s in self.steps if s.name == name), None)

    def skipped(self, name: str, *, needs_chat: bool = False) -> bool:
        """Record ``name`` as skipped when the server is gone, or (``needs_chat``) gave no
        working chat completion; whether it was."""
        if self.dead:
            self.record(name, Status.SKIP, f"skipped: {self.dead}")
            return True
        if needs_chat and self.chat is None:
            self.record(name, Status.SKIP, "skipped: needs a working chat completion")
            return True
        return False

    def call_failed(self, name: str, exc: EndpointCallError, what: str, then: str = "") -> None:
        """``name`` fails on a call that failed (``"{what} failed: {cause}{then}"``); a server
        that is gone makes every later call pointless."""
        self.note_call_failure(exc)
        self.fail(name, f"{what} failed: {cause_text(exc)}{then}")

    def fail(self, name: str, message: str, *, fix_of: str | None = None) -> None:
        """``name`` fails with ``message``; its finding carries the fix for ``name`` (or for
        ``fix_of``, the sub-check whose fix this failure calls for)."""
        self.record(name, Status.FAIL, message, fix=FIXES[fix_of or name])

    def note_call_failure(self, exc: EndpointCallError) -> None:
        """An unreachable or hanging core route makes every later call pointless."""
        if exc.cause in ("unreachable", "timeout") and self.dead is None:
            self.dead = (
                "the server is unreachable"
                if exc.cause == "unreachable"
                else f"the server did not answer within the {self.timeout:g} s timeout"
            )


def cause_text(exc: EndpointCallError) -> str:
    """``"[timeout] POST /v1/chat/completions timed out"``: the named cause, then the message."""
    return f"[{exc.cause}] {exc}"
