"""The ``token_roundtrip`` check: a tokenizer and chat template that RL training can trust.

It runs the round-trip battery (``gymcheck.checks.roundtrip``), counts per-token decode hazards,
and checks the chat template's properties (``gymcheck.checks.chat_template``).

What the verdicts mean:

``fail``  RL training with this tokenizer goes off-policy as the integration stands. Ordinary
          text that a model generates (whitespace, Unicode, punctuation) does not survive
          decode → encode, so any step that carries text instead of ids (the OpenAI ``content``,
          a re-rendered prompt, a trainer that re-tokenizes the response) trains on ids the
          model never sampled.
``warn``  A known hazard that token-in-token-out handles: the trainer must use the inference
          engine's own ids (``prompt_token_ids``/``generation_token_ids``, NeMo RL's prefix
          splicing) and never re-render or re-tokenize earlier turns. The template hazards
          (not append-only, a generation prompt that is not a prefix, reasoning stripped from
          earlier turns), special-token text that does not round-trip, a template that cannot
          render the test conversation, and a tokenizer without a chat template (whose template
          checks are then skipped).
``pass``  Nothing above was found.

Two things are reported but change no verdict, because generation and training see the same
ids either way:
- per-token decode hazards (ids that decode to U+FFFD alone): inherent to byte-level
  vocabularies, they harm only text built one token at a time;
- ``special_tokens_in_content``: special-token text typed in a message becomes special ids
  (a ``warn`` step and an ``info`` finding). That holds for every template rendered as text
  and then tokenized, as inference servers do; it is an environment-data hazard (escape such
  text in tool results and user turns), not an integration bug.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from gymcheck.checks.chat_template import (
    PropertyResult,
    has_chat_template,
    template_properties,
)
from gymcheck.checks.context import CheckContext, CheckOptions
from gymcheck.checks.registry import check
from gymcheck.checks.roundtrip import (
    DEFAULT_CORPUS,
    OFF_POLICY_CATEGORIES,
    RoundTrip,
    decode_hazards,
    run_battery,
)
from gymcheck.report import CheckResult, Finding, Status, Step

CHECK_ID = "token_roundtrip"

VERDICTS = {
    "fail": "RL training on this tokenizer/template goes off-policy as the integration stands",
    "warn": "a known hazard that token-in-token-out handles (train on the engine's own ids; "
    "never re-render or re-tokenize earlier turns)",
}

TITO = (
    "this template breaks token continuity unless the trainer uses token-in-token-out: keep "
    "the engine's prompt_token_ids/generation_token_ids (NeMo RL prefix splicing, vLLM "
    "return_token_ids) instead of re-rendering the conversation"
)

ROUNDTRIP_FIXES: dict[str, str] = {
    "whitespace": "decoding loses or merges whitespace (SentencePiece strips and collapses "
    "spaces): keep generated ids end to end, never re-tokenize decoded text",
    "unicode_normalization": "the normalizer rewrites characters (NFKC and the like): keep "
    "generated ids end to end, or drop the normalizer",
    "partial_utf8": "the ids decode to U+FFFD: decode whole sequences with errors kept, and "
    "keep generated ids end to end",
    "cleanup_spaces": "set clean_up_tokenization_spaces=false in tokenizer_config.json (and "
    "pass it to decode) so spaces before punctuation survive",
    "special_token_text": "text that spells a special token becomes that special id when "
    "re-encoded: keep generated ids end to end (token-in-token-out)",
    "other": "keep generated ids end to end; decoded text does not re-encode to them",
}

PROPERTY_CONSEQUENCES: dict[str, str] = {
    "append_only": TITO,
    "generation_prompt_prefix": TITO,
    "reasoning_preserved": "reasoning stripping is a template hazard: the model generated its "
    "reasoning, later prompts lack it, so " + TITO,
    "special_tokens_in_content": "user or tool text can close turns and inject structure; "
    "generation and training tokenize the render alike, so this changes no verdict: escape "
    "special-token text in environment content if it must stay text",
}

HAZARDS_SHOWN = 10


def _roundtrip_finding(trip: RoundTrip) -> Finding:
    assert trip.category is not None
    off_policy = trip.category in OFF_POLICY_CATEGORIES
    index = next(
        (i for i, (a, b) in enumerate(zip(trip.ids, trip.re_encoded, strict=False)) if a != b),
        min(len(trip.ids), len(trip.re_encoded)),
    )
    return Finding(
        code="roundtrip_failure",
        severity="error" if off_policy else "warning",
        message=f"{trip.category}: {trip.original!r} decodes to {trip.decoded!r}, which "
        f"re-encodes to other ids from token {index}",
        token_index=index,
        expected=trip.original,
        actual=trip.decoded,
        fix=ROUNDTRIP_FIXES[trip.category],
        details={
            "category": trip.category,
            "verdict": "fail" if off_policy else "warn",
            **trip.to_dict(),
        },
    )


# Properties reported as findings that do not change the verdict (module docstring).
INFO_PROPERTIES = frozenset({"special_tokens_in_content"})


def _property_finding(prop: PropertyResult) -> Finding:
    info = prop.name in INFO_PROPERTIES
    return Finding(
        code=f"chat_template_{prop.name}",
        severity="info" if info else "warning",
        message=prop.message,
        turn=prop.details.get("turn"),
        token_index=prop.token_index,
        expected=prop.expected,
        actual=prop.actual,
        fix=PROPERTY_CONSEQUENCES[prop.name],
        details={"property": prop.name, "verdict": "info" if info else "warn", **prop.details},
    )


def _battery_step(trips: Sequence[RoundTrip], categories: Counter[str]) -> Step:
    data = {
        "strings": len(trips),
        "unstable": sum(categories.values()),
        "categories": dict(sorted(categories.items())),
    }
    if not categories:
        return Step("roundtrip", Status.PASS, data=data)
    status = Status.FAIL if OFF_POLICY_CATEGORIES & set(categories) else Status.WARN
    return Step("roundtrip", status, data=data)


def _hazard_step(hazards: Sequence[int], vocab_size: int) -> Step:
    # Reported, never a verdict: see the module docstring.
    return Step(
        "decode_hazards", Status.PASS, data={"hazards": len(hazards), "vocab_size": vocab_size}
    )


def _property_step(prop: PropertyResult) -> Step:
    status = {"pass": Status.PASS, "fail": Status.WARN, "skip": Status.SKIP}[prop.status]
    return Step(prop.name, status, data={"detail": prop.message})


@check(CHECK_ID, order=20, required=True, needs=("tokenizer",))
def token_roundtrip(ctx: CheckContext) -> CheckResult:
    """Round-trip battery, decode hazards and chat-template properties (module docstring)."""
    started = time.perf_counter()
    tokenizer, strings, chat_template = (
        ctx.tokenizer,
        ctx.options.strings,
        ctx.options.chat_template,
    )
    corpus = [*DEFAULT_CORPUS, *(strings or [])]
    trips = run_battery(tokenizer, corpus)
    failed = [t for t in trips if not t.stable]
    categories = Counter(t.category for t in failed if t.category)
    hazards = decode_hazards(tokenizer)

    steps = [_battery_step(trips, categories), _hazard_step(hazards, len(tokenizer))]
    findings = [_roundtrip_finding(t) for t in failed]
    properties: list[PropertyResult] = []
    if has_chat_template(tokenizer, chat_template):
        properties = template_properties(tokenizer, chat_template=chat_template)
        steps += [_property_step(p) for p in properties]
        findings += [_property_finding(p) for p in properties if p.status == "fail"]
        for prop in properties:
            if "render_error" in prop.details:
                findings.append(
                    Finding(
                        code="chat_template_render_error",
                        severity="warning",
                        message=f"{prop.name} skipped: {prop.details['render_error']}",
                        fix="make the template render system, user, assistant tool calls, "
                        "tool results and reasoning_content, as NeMo Gym sends them",
                        details={"property": prop.name},
                    )
                )
    else:
        steps.append(
            Step(
                "chat_template",
                Status.WARN,
                data={
                    "skipped": [
                        "append_only",
                        "generation_prompt_prefix",
                        "reasoning_preserved",
                        "special_tokens_in_content",
                    ]
                },
            )
        )
        findings.append(
            Finding(
                code="chat_template_missing",
                severity="warning",
                message="the tokenizer has no chat template, so its template checks were skipped",
                fix="pass --chat-template FILE (or chat_template=...) with the template the "
                "inference server uses",
            )
        )

    if any(f.severity == "error" for f in findings):
        status = Status.FAIL
    elif any(f.severity == "warning" for f in findings):
        status = Status.WARN
    else:
        status = Status.PASS
    template_failures = [
        p.name for p in properties if p.status == "fail" and p.name not in INFO_PROPERTIES
    ]
    return CheckResult(
        id=CHECK_ID,
        status=status,
        summary=_summary(status, trips, categories, template_failures, bool(properties)),
        details={
            "strings": len(trips),
            "unstable": len(failed),
            "categories": dict(sorted(categories.items())),
            "vocab_size": len(tokenizer),
            "decode_hazards": len(hazards),
            "decode_hazard_ids": hazards[:HAZARDS_SHOWN],
            "chat_template": (
                "supplied" if chat_template else "tokenizer" if properties else "missing"
            ),
            "properties": {p.name: p.status for p in properties},
            "verdicts": dict(VERDICTS),
        },
        steps=steps,
        findings=findings,
        duration_s=round(time.perf_counter() - started, 3),
    )


def check_token_roundtrip(
    tokenizer: Any,
    *,
    strings: Sequence[str] | None = None,
    chat_template: str | None = None,
) -> CheckResult:
    """Round-trip battery, decode hazards and chat-template properties (module docstring).

    ``strings`` are added to the built-in corpus; ``chat_template`` (Jinja source) replaces the
    tokenizer's own template.
    """
    options = CheckOptions(strings=strings, chat_template=chat_template)
    return token_roundtrip(CheckContext(tokenizer=tokenizer, options=options))


def _summary(
    status: Status,
    trips: Sequence[RoundTrip],
    categories: Counter[str],
    template_failures: Sequence[str],
    template_checked: bool,
) -> str:
    if status is Status.PASS:
        return f"All {len(trips)} round-trips stable; chat template keeps token continuity"
    parts = []
    if categories:
        parts.append(
            f"{sum(categories.values())} unstable round-trips ("
            + ", ".join(sorted(categories))
            + ")"
        )
    if template_failures:
        parts.append("template hazards: " + ", ".join(template_failures))
    if not template_checked:
        parts.append("no chat template (template checks skipped)")
    if not parts:
        parts.append("chat template checks could not render the conversation")
    verdict = VERDICTS["fail" if status is Status.FAIL else "warn"]
    return "; ".join(parts) + f" — {status.value}: {verdict}"
