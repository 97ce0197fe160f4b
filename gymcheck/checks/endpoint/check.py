"""``check_http_endpoint``: every sub-check in order, then one verdict."""

from __future__ import annotations

import time
from typing import Any

from gymcheck.checks.context import CheckContext, CheckOptions
from gymcheck.checks.endpoint.basics import (
    check_chat,
    check_models,
    check_tool_calls,
    local_model_dir,
)
from gymcheck.checks.endpoint.burst import check_burst
from gymcheck.checks.endpoint.decode import check_decode
from gymcheck.checks.endpoint.multiturn import check_multi_turn
from gymcheck.checks.endpoint.probe import STEP_NAMES, Probe
from gymcheck.checks.endpoint.robustness import check_bad_request, check_top_logprobs_null
from gymcheck.checks.endpoint.tokens import (
    check_counts,
    check_max_tokens,
    check_token_info,
    check_tokenize,
)
from gymcheck.checks.registry import check
from gymcheck.errors import TokenizerLoadError
from gymcheck.openai_client import OpenAIClient, server_root
from gymcheck.report import CheckResult, Status

CHECK_ID = "http_endpoint"


@check(CHECK_ID, order=10, required=True, needs=("base_url",))
def http_endpoint(ctx: CheckContext) -> CheckResult:
    """Probe the OpenAI-compatible server at ``ctx.base_url`` the way NeMo Gym's ``vllm_model``
    uses it (``check_http_endpoint``)."""
    options = ctx.options
    start = time.perf_counter()
    with OpenAIClient(ctx.base_url or "", api_key=ctx.api_key, timeout=options.timeout) as client:
        probe = Probe(client=client, timeout=options.timeout)
        probe.details["base_url"] = server_root(ctx.base_url or "")
        _run(
            probe,
            ctx.model,
            ctx.tokenizer,
            burst=options.burst,
            concurrency=options.concurrency,
        )
    result = _verdict(probe)
    result.duration_s = time.perf_counter() - start
    return result


def check_http_endpoint(
    base_url: str,
    *,
    model: str | None = None,
    api_key: str | None = None,
    timeout: float = 30.0,
    tokenizer: Any = None,
    burst: int = 64,
    concurrency: int = 16,
) -> CheckResult:
    """Probe an OpenAI-compatible server the way NeMo Gym's ``vllm_model`` uses it.

    ``tokenizer`` (a loaded tokenizer, or a path or cached name) decodes the generated ids
    when the served model's directory is not on this machine. Every call times out after
    ``timeout`` seconds. ``burst`` requests, ``concurrency`` at a time, measure latency.
    """
    options = CheckOptions(timeout=timeout, burst=burst, concurrency=concurrency)
    return http_endpoint(
        CheckContext(
            base_url=base_url, model=model, api_key=api_key, tokenizer=tokenizer, options=options
        )
    )


def _run(probe: Probe, model: str | None, tokenizer: Any, *, burst: int, concurrency: int) -> None:
    check_models(probe, model)
    if probe.dead or not probe.model:
        reason = probe.dead or "no model to probe: pass --model"
        for name in STEP_NAMES[1:]:
            probe.record(name, Status.SKIP, f"skipped: {reason}")
        return
    probe.details["model"] = probe.model
    check_chat(probe)
    if probe.chat is None:
        # Every later probe is a chat completion too: one failure, stated once.
        reason = probe.dead or "needs a working chat completion"
        for name in STEP_NAMES[2:]:
            if name == "bad_request" and not probe.dead:
                check_bad_request(probe)
            else:
                probe.record(name, Status.SKIP, f"skipped: {reason}")
        return
    check_tool_calls(probe)
    _resolve_tokenizer(probe, tokenizer)
    check_token_info(probe)
    check_counts(probe)
    check_max_tokens(probe)
    check_tokenize(probe)
    check_decode(probe)
    check_multi_turn(probe)
    check_top_logprobs_null(probe)
    check_bad_request(probe)
    check_burst(probe, total=burst, concurrency=concurrency)


def _resolve_tokenizer(probe: Probe, tokenizer: Any) -> None:
    """The served model's own tokenizer when its directory is local, else ``tokenizer``."""
    from gymcheck.loading import load_tokenizer

    sources: list[tuple[Any, str]] = []
    local = local_model_dir(probe)
    if local is not None:
        sources.append((local, f"the served model's tokenizer at {local}"))
    if tokenizer is not None:
        label = (
            f"the tokenizer {tokenizer}"
            if isinstance(tokenizer, str)
            else f"the given {type(tokenizer).__name__}"
        )
        sources.append((tokenizer, label))
    problems = []
    for source, label in sources:
        if not hasattr(source, "decode"):
            try:
                source = load_tokenizer(source)
            except TokenizerLoadError as exc:
                problems.append(str(exc))
                continue
        probe.tokenizer, probe.tokenizer_note = source, label
        probe.details["tokenizer"] = label
        return
    probe.tokenizer_note = (
        "; ".join(problems)
        if problems
        else "no tokenizer: the served model's directory is not on this machine; pass one "
        "(tokenizer=... in Python, --tokenizer with gymcheck validate)"
    )


def _verdict(probe: Probe) -> CheckResult:
    failed = [s.name for s in probe.steps if s.status is Status.FAIL]
    warned = [s.name for s in probe.steps if s.status is Status.WARN]
    form = probe.details.get("token_form")
    served = f"token form {form}" if form else "no token form"
    if failed:
        status = Status.FAIL
        summary = f"{len(failed)} of {len(probe.steps)} sub-checks failed: {', '.join(failed)}"
    elif warned:
        status = Status.WARN
        summary = f"usable for training ({served}), with warnings: {', '.join(warned)}"
    else:
        status = Status.PASS
        summary = f"every sub-check passed ({served})"
    return CheckResult(
        id=CHECK_ID,
        status=status,
        summary=summary,
        required=True,
        details=probe.details,
        steps=probe.steps,
        findings=probe.findings,
    )
