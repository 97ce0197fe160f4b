"""Sub-checks ``token_info``, ``counts`` and ``tokenize``: the ids Gym trains on."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from gymcheck.checks.endpoint.probe import FORM_NAMES, Completion, Probe, cause_text
from gymcheck.openai_client import EndpointCallError
from gymcheck.report import Status
from gymcheck.rollout import first_divergence

NO_TOKENIZE_STATUSES = (404, 405)


def tokenize_ids(probe: Probe, request: Mapping[str, Any]) -> list[int]:
    """The prompt ids ``POST /tokenize`` gives for a chat request (Gym's form-3 source)."""
    body: dict[str, Any] = {"model": request["model"], "messages": request["messages"]}
    if request.get("tools"):
        body["tools"] = request["tools"]
    reply = probe.client.tokenize(body)
    tokens = reply.get("tokens") if isinstance(reply, Mapping) else None
    if not isinstance(tokens, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in tokens
    ):
        raise EndpointCallError(
            "POST /tokenize answered without a 'tokens' list of ids", cause="invalid_json"
        )
    probe.tokenize_available = True
    return tokens


def _is_missing_route(exc: EndpointCallError) -> bool:
    return exc.cause == "http_status" and exc.status_code in NO_TOKENIZE_STATUSES


def _bad_logprob(logprobs: Sequence[Any]) -> str | None:
    for i, value in enumerate(logprobs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"logprob {i} is {value!r}, not a number"
        if value > 1e-6 or not math.isfinite(value):
            return f"logprob {i} is {value!r}; a log-probability is finite and <= 0"
    return None


def check_token_info(probe: Probe) -> None:
    chat = probe.chat
    if chat is None:
        probe.record("token_info", Status.SKIP, "skipped: needs a working chat completion")
        return
    info = chat.info
    if info is None:
        probe.fail(
            "token_info",
            "no token ids in any of the three forms Gym reads (choices[0].message token "
            "fields; top-level prompt_token_ids + choices[0].token_ids; 'token_id:<id>' "
            "logprob tokens): Gym's vllm_model cannot train on this server's output",
        )
        return
    probe.details["token_form"] = info.form
    bad = _bad_logprob(info.generation_log_probs)
    if bad is not None:
        probe.fail("token_info", f"served in {FORM_NAMES[info.form]}, but {bad}", fix_of="counts")
        return
    if info.form == "token_id_strings":
        _fetch_form3_prompts(probe)
    probe.record("token_info", Status.PASS, f"served in {FORM_NAMES[info.form]}")


def _fetch_form3_prompts(probe: Probe) -> None:
    for completion in (probe.chat, probe.tool_turn):
        if completion is None or completion.prompt_ids is not None:
            continue
        try:
            completion.prompt_ids = tokenize_ids(probe, completion.request)
        except EndpointCallError as exc:
            probe.tokenize_available = not _is_missing_route(exc)
            probe.details["tokenize_error"] = cause_text(exc)
            return


def _count_problem(label: str, completion: Completion) -> str | None:
    info = completion.info
    if info is None:
        return None
    generated, logprobs = len(info.generation_token_ids), len(info.generation_log_probs)
    usage = completion.usage or {}
    completion_tokens, prompt_tokens = usage.get("completion_tokens"), usage.get("prompt_tokens")
    if generated == 0:
        return f"{label}: the server returned no generated ids"
    if logprobs != generated:
        return f"{label}: {generated} generated ids but {logprobs} logprobs"
    if isinstance(completion_tokens, int) and completion_tokens != generated:
        return (
            f"{label}: {generated} generated ids but usage.completion_tokens = {completion_tokens}"
        )
    prompt = completion.prompt_ids
    if prompt is not None and isinstance(prompt_tokens, int) and len(prompt) != prompt_tokens:
        return f"{label}: {len(prompt)} prompt ids but usage.prompt_tokens = {prompt_tokens}"
    return None


def check_counts(probe: Probe) -> None:
    if probe.status_of("token_info") is not Status.PASS:
        probe.record("counts", Status.SKIP, "skipped: needs token information")
        return
    completions = [("chat", probe.chat), ("tool call", probe.tool_turn)]
    for label, completion in completions:
        if completion is not None and (problem := _count_problem(label, completion)):
            probe.fail("counts", problem)
            return
    chat = probe.chat
    assert chat is not None and chat.info is not None
    generated = len(chat.info.generation_token_ids)
    prompt = "?" if chat.prompt_ids is None else str(len(chat.prompt_ids))
    if chat.usage is None:
        probe.record(
            "counts",
            Status.WARN,
            f"{generated} generated ids = {generated} logprobs, but the answer has no usage "
            "to compare with",
            fix="return usage.prompt_tokens and usage.completion_tokens",
        )
        return
    probe.record(
        "counts",
        Status.PASS,
        f"generated ids = logprobs = usage.completion_tokens ({generated}); prompt ids = "
        f"usage.prompt_tokens ({prompt})",
    )


def generated_count(completion: Completion) -> int:
    """Generated tokens: the ids when there are any, else ``usage.completion_tokens``."""
    if completion.info is not None and completion.info.generation_token_ids:
        return len(completion.info.generation_token_ids)
    usage = completion.usage or {}
    reported = usage.get("completion_tokens")
    return reported if type(reported) is int else 0


def over_max_tokens(completion: Completion) -> int:
    """How many tokens past the request's ``max_tokens`` the answer generated (0: none)."""
    limit = completion.request.get("max_tokens")
    return max(0, generated_count(completion) - limit) if isinstance(limit, int) else 0


def check_max_tokens(probe: Probe) -> None:
    """A server that generates past ``max_tokens`` makes rollouts (and memory) unbounded."""
    if probe.skipped("max_tokens"):
        return
    for label, completion in (("chat", probe.chat), ("tool call", probe.tool_turn)):
        if completion is not None and (over := over_max_tokens(completion)):
            limit = completion.request["max_tokens"]
            probe.fail(
                "max_tokens",
                f"the {label} request asked for max_tokens {limit} and got "
                f"{limit + over:,} generated tokens",
            )
            return
    probe.record("max_tokens", Status.PASS, "no answer generated more than its max_tokens")


def window(tokenizer: Any, ids: Sequence[int], index: int, before: int = 8, after: int = 12) -> str:
    """The ids around ``index``, decoded when there is a tokenizer."""
    low, high = max(0, index - before), min(len(ids), index + after)
    if tokenizer is not None:
        try:
            text = tokenizer.decode(list(ids[low:high]), skip_special_tokens=False)
            return ("…" if low else "") + repr(text)[1:-1] + ("…" if high < len(ids) else "")
        except (ValueError, TypeError, OverflowError, IndexError):
            pass
    return f"ids[{low}:{high}] = {list(ids[low:high])}"


def check_tokenize(probe: Probe) -> None:
    chat = probe.chat
    if probe.skipped("tokenize", needs_chat=True) or chat is None:
        return
    form = chat.info.form if chat.info is not None else None
    if form == "token_id_strings":
        _check_form3_tokenize(probe, chat)
        return
    try:
        tokens = tokenize_ids(probe, chat.request)
    except EndpointCallError as exc:
        if _is_missing_route(exc):
            probe.tokenize_available = False
            probe.record(
                "tokenize",
                Status.SKIP,
                f"no /tokenize route (HTTP {exc.status_code}); optional while the completion "
                "carries the prompt ids",
            )
            return
        probe.fail("tokenize", f"POST /tokenize failed: {cause_text(exc)}")
        return
    if chat.prompt_ids is None:
        probe.record(
            "tokenize",
            Status.SKIP,
            f"/tokenize answered {len(tokens)} ids, but the completion gave no prompt ids to "
            "compare with",
        )
        return
    index = first_divergence(chat.prompt_ids, tokens)
    if index is None and len(tokens) == len(chat.prompt_ids):
        probe.record(
            "tokenize",
            Status.PASS,
            f"same {len(tokens)} prompt ids as the completion",
        )
        return
    index = index if index is not None else len(chat.prompt_ids)
    probe.fail(
        "tokenize",
        f"/tokenize gives {len(tokens)} prompt ids, the completion {len(chat.prompt_ids)}; "
        f"they differ from token {index}: completion "
        f"{window(probe.tokenizer, chat.prompt_ids, index)!s} vs /tokenize "
        f"{window(probe.tokenizer, tokens, index)!s}",
    )


def _check_form3_tokenize(probe: Probe, chat: Completion) -> None:
    if chat.prompt_ids is not None:
        probe.record(
            "tokenize",
            Status.PASS,
            f"gives the prompt ids form 3 needs ({len(chat.prompt_ids)} ids; checked against "
            "usage.prompt_tokens under counts)",
        )
        return
    error = probe.details.get("tokenize_error", "no answer")
    probe.fail("tokenize", f"form 3 takes the prompt ids from /tokenize, and it failed: {error}")
