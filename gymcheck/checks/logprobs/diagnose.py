"""Why log-probs disagree: the known causes, tried in turn on the measured pairs.

Log-probs shifted by one position, a temperature applied on one side only, processed (top-k/top-p
renormalized) log-probs, constrained decoding, a different dtype, the wrong checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gymcheck.checks.logprobs.measure import Agreement, agreement_metrics

_IMPROVES = 0.1  # a hypothesis explains the mismatch when it cuts the KL tenfold
_AGREE_TOLERANCE = 1e-3
_MISMATCH_THRESHOLD = 0.1
# Sampling from other weights also leans the engine's way, but not at every token.
_CONSTRAINED_ENGINE_HIGHER_SHARE = 0.99
_CONSTRAINED_MIN_MISMATCHED = 10


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The likely cause of a disagreement, what it shows, how to fix it, and the evidence."""

    cause: str
    message: str
    fix: str
    evidence: dict[str, Any] = field(default_factory=dict)


def fit_temperature(agreement: Agreement) -> tuple[float, float] | None:
    """The temperature whose log-probs best match the engine's on the probe rows, and its KL."""
    if agreement.probe_logits is None or not agreement.probe_gen:
        return None
    import torch

    logits = agreement.probe_logits
    tokens = torch.tensor(agreement.probe_tokens).unsqueeze(-1)
    gen = torch.tensor(agreement.probe_gen, dtype=torch.float32)

    def kl_at(temperature: float) -> float:
        scaled = logits / temperature
        train = scaled.gather(-1, tokens).squeeze(-1) - torch.logsumexp(scaled, dim=-1)
        log_ratio = (train - gen).double()
        return float((log_ratio.exp() - 1 - log_ratio).mean())

    grid = [0.05 * 1.2**k for k in range(26)]  # 0.05 .. ~4.8
    best = min(grid, key=kl_at)
    fine = [best * 1.2 ** (k / 10) for k in range(-10, 11)]
    best = min(fine, key=kl_at)
    return best, kl_at(best)


_TOP_K = (1, 2, 3, 4, 5, 8, 10, 16, 20, 32, 40, 50, 64, 100, 128, 200, 256, 500, 1000)
_TOP_P = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.92, 0.95, 0.97, 0.98, 0.99)


def fit_truncation(agreement: Agreement) -> tuple[str, float, float] | None:
    """The top-k or top-p whose renormalized log-probs best match the engine's, and its KL."""
    if agreement.probe_logits is None or not agreement.probe_gen:
        return None
    import torch

    scaled = agreement.probe_logits / agreement.temperature
    raw = torch.log_softmax(scaled, dim=-1)
    tokens = torch.tensor(agreement.probe_tokens).unsqueeze(-1)
    gen = torch.tensor(agreement.probe_gen, dtype=torch.float64)
    token_lp = raw.gather(-1, tokens).squeeze(-1).double()
    sorted_lp, order = raw.sort(dim=-1, descending=True)
    rank = (order == tokens).float().argmax(dim=-1)  # 0-based rank of the sampled token
    cumulative = sorted_lp.exp().double().cumsum(dim=-1)

    def kl_of(kept_mass: torch.Tensor, inside: torch.Tensor) -> float:
        if not bool(inside.all()):
            return math.inf  # the engine sampled a token this cut would have removed
        log_ratio = token_lp - kept_mass.clamp(min=1e-300).log() - gen
        return float((log_ratio.exp() - 1 - log_ratio).mean())

    vocab = scaled.shape[-1]
    candidates: list[tuple[str, float, float]] = []
    for k in _TOP_K:
        if k < vocab:
            candidates.append(("top_k", k, kl_of(cumulative[:, k - 1], rank < k)))
    for p in _TOP_P:
        # vLLM keeps the smallest prefix whose mass reaches p.
        kept = (cumulative - sorted_lp.exp().double() < p).sum(dim=-1)
        mass = cumulative.gather(-1, (kept - 1).unsqueeze(-1)).squeeze(-1)
        candidates.append(("top_p", p, kl_of(mass, rank < kept)))
    return min(candidates, key=lambda c: c[2])


def constrained_evidence(agreement: Agreement) -> dict[str, Any]:
    """How the disagreeing tokens lean: grammar masking only ever raises the engine's side."""
    mismatched = agreeing = engine_higher = 0
    for gen, train in zip(agreement.gen, agreement.train, strict=True):
        delta = gen - train
        if abs(delta) <= _AGREE_TOLERANCE:
            agreeing += 1
        elif abs(delta) > _MISMATCH_THRESHOLD:
            mismatched += 1
            engine_higher += delta > 0
    total = max(agreement.n_tokens, 1)
    return {
        "mismatched": mismatched,
        "agreeing_share": agreeing / total,
        "engine_higher_share": engine_higher / mismatched if mismatched else 0.0,
    }


def diagnose(agreement: Agreement, metrics: Mapping[str, float], *, max_kl: float) -> Diagnosis:
    """The likely cause of log-probs that disagree."""
    kl = metrics["gen_kl_error"]
    evidence: dict[str, Any] = {}
    # 1. Shifted by one position: the engine's log-probs fit the neighbouring token's.
    for shift in (1, -1):
        gen, train = agreement.shifted[shift]
        shifted = agreement_metrics(gen, train)
        evidence[f"shift_{shift:+d}"] = shifted
        if shifted["n_tokens"] and shifted["gen_kl_error"] <= max(max_kl, _IMPROVES * kl):
            side = "next" if shift < 0 else "previous"
            return Diagnosis(
                "logprobs_shifted",
                f"generation_log_probs are shifted by one position: each matches the trainer's "
                f"log-prob of the {side} token (KL {shifted['gen_kl_error']:.2e} shifted vs "
                f"{kl:.2e} aligned)",
                "align generation_log_probs[i] with generation_token_ids[i] (one entry per "
                "generated token, no leading prompt entry); in the trainer, logits[t - 1] "
                "scores token t",
                evidence,
            )
    # 2. Temperature applied on one side only.
    fitted = fit_temperature(agreement)
    used = agreement.temperature
    if fitted is not None:
        best, best_kl = fitted
        evidence["fitted_temperature"] = best
        evidence["fitted_kl"] = best_kl
        if abs(math.log(best / used)) > math.log(1.1) and best_kl <= max(max_kl, _IMPROVES * kl):
            if abs(best - 1.0) < 0.05 and abs(used - 1.0) >= 0.05:
                message = (
                    f"generation_log_probs fit temperature 1.0 (raw logits), not the sampling "
                    f"temperature {used:g}: the engine reports log-probs before temperature"
                )
                fix = (
                    "have the engine return processed log-probs (vLLM: "
                    "logprobs_mode='processed_logprobs'), or score at temperature 1.0"
                )
            else:
                message = (
                    f"generation_log_probs fit temperature {best:.2f}, but the trainer scored at "
                    f"{used:g}: the temperature is not applied to the logits on one side"
                )
                fix = (
                    "divide the trainer's logits by the sampling temperature before log_softmax "
                    f"(pass --temperature {best:.2g} if that is what was sampled with)"
                )
            return Diagnosis("temperature_mismatch", message, fix, evidence)
    # 3. Processed log-probs: renormalized over the top-k / top-p set the engine sampled from.
    truncation = fit_truncation(agreement)
    if truncation is not None:
        kind, value, cut_kl = truncation
        evidence["fitted_truncation"] = {kind: value, "kl": cut_kl}
        if cut_kl <= max(max_kl, _IMPROVES * kl):
            return Diagnosis(
                "processed_logprobs",
                f"generation_log_probs match the trainer's renormalized over {kind}={value:g} "
                f"(KL {cut_kl:.2e} vs {kl:.2e}): the engine reports processed log-probs after "
                "top-k/top-p",
                "compare raw log-probs (vLLM: logprobs_mode='raw_logprobs'), or apply the same "
                f"{kind} mask in the trainer before log_softmax",
                evidence,
            )
    # 4. Constrained decoding: a grammar (tool_choice "required", strict tool calls, guided
    # JSON) masked the logits. The engine's log-prob is then of the masked, renormalized
    # distribution, so it is never below the trainer's; unconstrained tokens agree.
    constrained = constrained_evidence(agreement)
    evidence["constrained"] = constrained
    if (
        constrained["mismatched"] >= _CONSTRAINED_MIN_MISMATCHED
        and constrained["engine_higher_share"] >= _CONSTRAINED_ENGINE_HIGHER_SHARE
    ):
        return Diagnosis(
            "constrained_decoding",
            f"at all {constrained['mismatched']} disagreeing tokens the engine's log-prob is "
            f"above the trainer's, never below ({constrained['agreeing_share']:.0%} of tokens "
            "agree exactly): the engine sampled those tokens from a grammar-masked "
            "distribution (structured outputs, tool_choice 'required', strict tool calls) and "
            "reports its log-probs; the "
            "policy that sampled them is not the model the trainer scores",
            "train on rollouts generated without guided decoding (tool_choice 'auto', no "
            "strict tool parsing), or mask the grammar-forced tokens out of the loss; an "
            "importance-sampling correction with these log-probs is biased",
            evidence,
        )
    # 5. Small symmetric noise is numerics; large differences are other weights.
    if metrics["max_abs_diff"] < 0.5 and metrics["token_mult_prob_error"] < 1.1:
        return Diagnosis(
            "dtype_mismatch",
            "small, unbiased differences at every token: the engine and trainer compute in "
            f"different precision (the trainer ran {agreement.model_dtype})",
            "run both sides in the same dtype (e.g. vLLM --dtype float32 and a float32 "
            "trainer), or raise --max-kl if bf16 noise is expected",
            evidence,
        )
    return Diagnosis(
        "wrong_checkpoint",
        "large differences that no shift, temperature or renormalization explains: the trainer "
        "is not scoring with the weights that generated the rollouts",
        "load the checkpoint the engine served (check the weight sync after each step and the "
        "model path)",
        evidence,
    )
