"""Sub-checks ``top_logprobs_null`` and ``bad_request``: the server fails loudly, not silently."""

from __future__ import annotations

from gymcheck.checks.endpoint.basics import post_chat
from gymcheck.checks.endpoint.probe import FORM_NAMES, Probe, cause_text
from gymcheck.checks.endpoint.requests import bad_body, chat_body
from gymcheck.openai_client import EndpointCallError
from gymcheck.report import Status


def check_top_logprobs_null(probe: Probe) -> None:
    """The classic trap: ``top_logprobs: null`` answered 200 with the token ids gone."""
    if probe.skipped("top_logprobs_null"):
        return
    if probe.status_of("token_info") is not Status.PASS:
        probe.record(
            "top_logprobs_null",
            Status.SKIP,
            "skipped: the server gives no token ids even with top_logprobs: 0 (see token_info)",
        )
        return
    try:
        completion = post_chat(probe, chat_body(probe.model, top_logprobs=None))
    except EndpointCallError as exc:
        if exc.cause == "http_status" and exc.status_code is not None and exc.status_code < 500:
            probe.record(
                "top_logprobs_null",
                Status.PASS,
                f"rejected with HTTP {exc.status_code}, so the mistake cannot go unnoticed",
            )
            return
        probe.call_failed("top_logprobs_null", exc, "a request with top_logprobs: null")
        return
    if completion.info is None or not completion.info.generation_token_ids:
        probe.fail(
            "top_logprobs_null",
            "with top_logprobs: null the server answered 200 without token ids: a client that "
            "sends null (instead of 0) silently collects rollouts with nothing to train on",
        )
        return
    dropped = "" if completion.info.generation_log_probs else " (without logprobs)"
    probe.record(
        "top_logprobs_null",
        Status.PASS,
        f"token ids still returned{dropped}, in {FORM_NAMES[completion.info.form].split(' (')[0]}",
    )


def check_bad_request(probe: Probe) -> None:
    if probe.skipped("bad_request"):
        return
    try:
        probe.client.chat(bad_body(probe.model))
    except EndpointCallError as exc:
        status = exc.status_code
        if exc.cause == "http_status" and status is not None and 400 <= status < 500:
            probe.record(
                "bad_request", Status.PASS, f"'messages' that is not a list gets HTTP {status}"
            )
            return
        if exc.cause == "timeout":
            message = (
                f"an invalid request ('messages' not a list) hung past the {probe.timeout:g} s "
                "timeout instead of getting a 4xx"
            )
        else:
            message = f"an invalid request ('messages' not a list) got {cause_text(exc)}, not a 4xx"
        probe.fail("bad_request", message)
        return
    probe.fail(
        "bad_request",
        "an invalid request ('messages' not a list) was answered 2xx instead of a 4xx",
    )
