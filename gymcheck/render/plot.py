"""Scatter plot of trainer vs inference-engine log-probs, one point per generated token.

matplotlib is imported inside the functions, on the Agg backend, so no display is needed and
``import gymcheck`` stays light.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

from gymcheck.report import CheckResult

HEXBIN_ABOVE = 5000
"""More tokens than this are drawn as hexagonal bins (counts), not points, so nothing hides."""


def plot_title(result: CheckResult, *, model: str | None = None) -> str:
    """``logprob_agreement PASS`` over ``mult error 1.0000, KL 7.3e-13, max |Δ| 9.5e-06,
    621 tokens``, then the cause when it failed."""
    d = result.details
    parts = [f"logprob_agreement {result.status.value.upper()}"]
    metrics = []
    if isinstance(d.get("token_mult_prob_error"), float):
        metrics.append(f"mult error {d['token_mult_prob_error']:.4f}")
    if isinstance(d.get("gen_kl_error"), float):
        metrics.append(f"KL {d['gen_kl_error']:.2g}")
    if isinstance(d.get("max_abs_diff"), float):
        metrics.append(f"max |Δ| {d['max_abs_diff']:.2g}")
    if isinstance(d.get("n_tokens"), int):
        metrics.append(f"{d['n_tokens']:,} tokens")
    title = parts[0] + ("\n" + ", ".join(metrics) if metrics else "")
    if d.get("cause"):
        title += f"\ncause: {d['cause']}"
    if model:
        title += f"\n{model}"
    return title


def _figure(gen: Sequence[float], train: Sequence[float], title: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 5.4), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    diffs = [abs(g - t) for g, t in zip(gen, train, strict=True)]
    low = min([*gen, *train, 0.0])
    if len(gen) > HEXBIN_ABOVE:
        bins = axes.hexbin(gen, train, gridsize=60, bins="log", cmap="viridis", mincnt=1)
        figure.colorbar(bins, ax=axes, label="tokens per bin (log scale)")
    else:
        from matplotlib.ticker import FormatStrFormatter

        points = axes.scatter(gen, train, c=diffs, s=10, cmap="viridis", alpha=0.6, linewidths=0)

        # Fixed-format ticks: the default "1e-6" offset text collides with the title.
        figure.colorbar(
            points, ax=axes, label="|engine − trainer| (nats)", format=FormatStrFormatter("%.1e")
        )
    axes.plot([low, 0.0], [low, 0.0], color="#cf222e", linewidth=0.9, label="agreement (y = x)")
    axes.set_xlabel("engine log-prob, generation_log_probs (nats)")
    axes.set_ylabel("trainer log-prob, recomputed (nats)")
    figure.suptitle(title, fontsize=10, x=0.02, ha="left")
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.25)
    return figure


def scatter_png(gen: Sequence[float], train: Sequence[float], *, title: str) -> bytes:
    """The plot as PNG bytes (for the HTML report)."""
    buffer = io.BytesIO()
    _figure(gen, train, title).savefig(buffer, format="png")
    return buffer.getvalue()


def scatter_logprobs(
    gen: Sequence[float],
    train: Sequence[float],
    path: str | os.PathLike[str],
    *,
    title: str = "Trainer vs inference log-probs",
) -> None:
    """Write the plot as a PNG: engine log-prob on x, trainer on y; the diagonal is agreement."""
    _figure(gen, train, title).savefig(os.fspath(path))


def why_no_plot(result: CheckResult) -> str | None:
    """Why a ``logprob_agreement`` result has nothing to plot, or ``None`` when it has."""
    if result.series.get("gen"):
        return None
    if result.status.value in ("skip", "error"):
        return f"logprob_agreement ended early ({result.status.value}): {result.summary}"
    return "logprob_agreement compared no tokens"
