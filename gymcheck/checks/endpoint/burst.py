"""Sub-check ``burst``: concurrent requests, as Gym's rollout collection sends them, all succeed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from gymcheck.checks.endpoint.basics import post_chat
from gymcheck.checks.endpoint.probe import Completion, Probe, cause_text
from gymcheck.checks.endpoint.requests import BURST_MAX_TOKENS, chat_body
from gymcheck.checks.endpoint.tokens import generated_count, over_max_tokens
from gymcheck.openai_client import EndpointCallError


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def check_burst(probe: Probe, *, total: int, concurrency: int) -> None:
    from gymcheck.report import Status

    if probe.skipped("burst", needs_chat=True):
        return
    if total <= 0:
        probe.record("burst", Status.SKIP, "skipped: burst=0")
        return
    in_flight = max(1, min(concurrency, total))

    def one(_: int) -> Completion | EndpointCallError:
        try:
            return post_chat(probe, chat_body(probe.model, max_tokens=BURST_MAX_TOKENS))
        except EndpointCallError as exc:
            return exc

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="gymcheck-burst") as pool:
        outcomes = list(pool.map(one, range(total)))
    wall = time.perf_counter() - start
    done = [o for o in outcomes if isinstance(o, Completion)]
    failed = [o for o in outcomes if isinstance(o, EndpointCallError)]
    latencies = [c.seconds for c in done]
    # Tokens past max_tokens are not throughput but a broken server: counted apart.
    overrun = [c for c in done if over_max_tokens(c)]
    tokens = sum(min(generated_count(c), BURST_MAX_TOKENS) for c in done)
    figures = {
        "requests": total,
        "concurrency": in_flight,
        "failed": len(failed),
        "wall_s": round(wall, 3),
        "p50_s": round(percentile(latencies, 50), 4) if latencies else None,
        "p99_s": round(percentile(latencies, 99), 4) if latencies else None,
        "generated_tokens": tokens,
        "tokens_per_s": round(tokens / wall, 1) if wall > 0 else None,
        "over_max_tokens": len(overrun),
    }
    probe.details["burst"] = figures
    if failed:
        probe.fail(
            "burst",
            f"{len(failed)} of {total} requests ({in_flight} in flight) failed; first: "
            f"{cause_text(failed[0])}",
        )
        return
    if overrun:
        most = max(generated_count(c) for c in overrun)
        probe.fail(
            "burst",
            f"{len(overrun)} of {total} answers generated more than max_tokens "
            f"{BURST_MAX_TOKENS} (up to {most:,} tokens); throughput counts at most "
            f"{BURST_MAX_TOKENS} tokens per answer: {figures['tokens_per_s']} tokens/s",
            fix_of="max_tokens",
        )
        return
    probe.record(
        "burst",
        Status.PASS,
        f"{total} requests, {in_flight} in flight, all succeeded in {wall:.1f} s: latency "
        f"p50 {figures['p50_s']:.3f} s, p99 {figures['p99_s']:.3f} s; "
        f"{figures['tokens_per_s']} generated tokens/s",
    )
