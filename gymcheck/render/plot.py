"""Scatter plot of trainer vs inference-engine log-probs, one point per generated token."""

from __future__ import annotations

import os
from collections.abc import Sequence


def scatter_logprobs(
    gen: Sequence[float],
    train: Sequence[float],
    path: str | os.PathLike[str],
    *,
    title: str = "Trainer vs inference log-probs",
) -> None:
    """Write a PNG: engine log-prob on x, trainer log-prob on y, the diagonal is agreement.

    matplotlib is imported here, on the Agg backend, so no display is needed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5.0), dpi=120)
    try:
        diffs = [abs(g - t) for g, t in zip(gen, train, strict=True)]
        points = axes.scatter(gen, train, c=diffs, s=8, cmap="viridis", alpha=0.8)
        figure.colorbar(points, ax=axes, label="|gen - train|")
        low = min([*gen, *train, 0.0])
        axes.plot([low, 0.0], [low, 0.0], color="red", linewidth=0.8, label="agreement")
        axes.set_xlabel("generation_log_probs (inference engine)")
        axes.set_ylabel("recomputed log-probs (trainer)")
        axes.set_title(title)
        axes.legend(loc="upper left")
        figure.tight_layout()
        figure.savefig(os.fspath(path))
    finally:
        plt.close(figure)
