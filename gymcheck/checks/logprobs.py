"""``logprob_agreement``: the trainer's log-probs match the inference engine's, token by token.

The training model scores each rollout's full sequence; at every generated token its log-prob
of that token (at the sampling temperature) is compared with ``generation_log_probs``. The
metrics are the ones NeMo RL logs: ``token_mult_prob_error`` = mean exp(|gen - train|) and
``gen_kl_error`` = mean k3 = mean(exp(train - gen) - 1 - (train - gen)), an estimate of
KL(engine || trainer) on the engine's own samples. When they disagree, the known causes are
tried in turn: log-probs shifted by one position, a temperature applied on one side only,
processed (top-k/top-p renormalized) log-probs, a different dtype, the wrong checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymcheck.errors import GymcheckError
from gymcheck.report import CheckResult, Finding, Status, Step
from gymcheck.training import (
    TrainingSample,
    TrainModel,
    as_train_model,
    check_token_range,
    next_token_logprobs,
    samples_from_record,
    train_model_or_reason,
)

CHECK_ID = "logprob_agreement"
MAX_WORST_TOKENS = 5
_PROBE_ROWS = 128
_IMPROVES = 0.1  # a hypothesis explains the mismatch when it cuts the KL tenfold
_AGREE_TOLERANCE = 1e-3
_MISMATCH_THRESHOLD = 0.1
# Sampling from other weights also leans the engine's way, but not at every token.
_CONSTRAINED_ENGINE_HIGHER_SHARE = 0.99
_CONSTRAINED_MIN_MISMATCHED = 10

Progress = Callable[[int], None]
"""Called with the number of rollouts scored since the last call."""


@dataclass(slots=True)
class Agreement:
    """Per-token pairs of the engine's and the trainer's log-probs, with where they came from."""

    temperature: float
    gen: list[float] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    rollout_index: list[int] = field(default_factory=list)
    turn: list[int] = field(default_factory=list)
    token_index: list[int] = field(default_factory=list)
    token_id: list[int] = field(default_factory=list)
    shifted: dict[int, tuple[list[float], list[float]]] = field(
        default_factory=lambda: {1: ([], []), -1: ([], [])}
    )
    """For shift s: (gen[i], train[i - s]) inside each generation."""
    probe_logits: Any = None
    """Logit rows ``[K, V]`` (float32, CPU) at the first 128 generated positions: enough to fit
    a temperature or a top-k/top-p cut on failure, small enough to keep for any vocabulary."""
    probe_tokens: list[int] = field(default_factory=list)
    probe_gen: list[float] = field(default_factory=list)
    rollouts: int = 0
    per_turn_rollouts: int = 0
    missing_logprobs: int = 0
    skipped: list[str] = field(default_factory=list)
    model_dtype: str = "float32"
    decode: Callable[[Sequence[int]], str] = lambda ids: "".join(f"<{i}>" for i in ids)

    @property
    def n_tokens(self) -> int:
        return len(self.gen)


def agreement_metrics(gen: Sequence[float], train: Sequence[float]) -> dict[str, float]:
    """``token_mult_prob_error``, ``gen_kl_error`` (k3), ``max_abs_diff`` and ``mean_diff``."""
    n = len(gen)
    if n == 0:
        return {"n_tokens": 0}
    mult = kl = max_abs = total = 0.0
    for g, t in zip(gen, train, strict=True):
        diff = g - t
        mult += math.exp(min(abs(diff), 700.0))
        log_ratio = t - g
        kl += math.exp(min(log_ratio, 700.0)) - 1.0 - log_ratio
        max_abs = max(max_abs, abs(diff))
        total += diff
    return {
        "n_tokens": n,
        "token_mult_prob_error": mult / n,
        "gen_kl_error": kl / n,
        "max_abs_diff": max_abs,
        "mean_diff": total / n,
    }


def _finite_logprob(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _score_sample(model: TrainModel, sample: TrainingSample, agreement: Agreement) -> None:
    import torch

    ids = torch.tensor([sample.sequence.token_ids], dtype=torch.long)
    positions = [i for span in sample.spans for i in range(max(span.start, 1), span.end)]
    if not positions:
        return
    with torch.no_grad():
        logits = model.logits(ids)[0]
        pos = torch.tensor(positions, dtype=torch.long)
        train = next_token_logprobs(
            logits, ids[0], temperature=agreement.temperature, positions=pos
        ).tolist()
    trained = dict(zip(positions, train, strict=True))
    gen_at = sample.sequence.generation_logprobs
    probe_rows = []
    for span in sample.spans:
        for i in range(span.start, span.end):
            gen = _finite_logprob(gen_at[i])
            if gen is None or i not in trained:
                agreement.missing_logprobs += int(gen is None)
                continue
            agreement.gen.append(gen)
            agreement.train.append(trained[i])
            agreement.rollout_index.append(sample.rollout_index)
            agreement.turn.append(span.turn)
            agreement.token_index.append(i)
            agreement.token_id.append(int(sample.sequence.token_ids[i]))
            for shift in (1, -1):
                if span.start <= i - shift < span.end and (i - shift) in trained:
                    agreement.shifted[shift][0].append(gen)
                    agreement.shifted[shift][1].append(trained[i - shift])
            if len(agreement.probe_gen) < _PROBE_ROWS:
                probe_rows.append(i)
                agreement.probe_gen.append(gen)
                agreement.probe_tokens.append(int(sample.sequence.token_ids[i]))
    if probe_rows:
        rows = logits[torch.tensor(probe_rows, device=logits.device) - 1].float().cpu()
        agreement.probe_logits = (
            rows if agreement.probe_logits is None else torch.cat([agreement.probe_logits, rows])
        )


def measure_logprob_agreement(
    records: Sequence[Mapping[str, Any]],
    model: TrainModel | str,
    *,
    tokenizer: Any = None,
    temperature: float = 1.0,
    max_rollouts: int | None = None,
    progress: Progress | None = None,
) -> Agreement:
    """Score every rollout with the training model; the per-token pairs, for checks and plots."""
    if not temperature > 0:
        raise GymcheckError(f"temperature must be > 0, not {temperature}")
    train_model = as_train_model(model)
    if isinstance(tokenizer, str):
        from gymcheck.loading import load_tokenizer

        tokenizer = load_tokenizer(tokenizer)
    if tokenizer is not None:
        train_model = TrainModel(
            train_model.module, tokenizer, train_model.source, train_model.dtype, train_model.is_hf
        )
    agreement = Agreement(
        temperature=float(temperature), model_dtype=train_model.dtype, decode=train_model.decode
    )
    vocab: int | None = None
    for index, record in enumerate(records):
        if max_rollouts is not None and agreement.rollouts >= max_rollouts:
            break
        try:
            samples = samples_from_record(record, index)
        except GymcheckError as exc:
            agreement.skipped.append(f"rollout {index}: {exc}")
            samples = []
        if samples:
            agreement.rollouts += 1
            agreement.per_turn_rollouts += int(samples[0].per_turn)
        for sample in samples:
            if vocab is None:
                vocab = _vocab_size(train_model)
            bad = check_token_range(sample, vocab)
            if bad is not None:
                agreement.skipped.append(
                    f"rollout {index}: token {bad} has id {sample.sequence.token_ids[bad]}, "
                    f"outside the model's vocabulary of {vocab} (wrong model?)"
                )
                continue
            _score_sample(train_model, sample, agreement)
        if progress is not None:
            progress(1)
    return agreement


def _vocab_size(model: TrainModel) -> int:
    import torch

    with torch.no_grad():
        return int(model.logits(torch.zeros((1, 1), dtype=torch.long)).shape[-1])


def check_logprob_agreement(
    records: Sequence[Mapping[str, Any]],
    model: TrainModel | str,
    *,
    tokenizer: Any = None,
    temperature: float = 1.0,
    max_mult_prob_error: float = 1.05,
    max_kl: float = 1e-3,
    max_rollouts: int | None = None,
    progress: Progress | None = None,
) -> CheckResult:
    """Compare the training model's log-probs with ``generation_log_probs`` of every rollout."""
    started = time.perf_counter()
    train_model, reason = train_model_or_reason(model)
    if train_model is None:
        return CheckResult(CHECK_ID, Status.SKIP, reason, required=False)
    try:
        agreement = measure_logprob_agreement(
            records,
            train_model,
            tokenizer=tokenizer,
            temperature=temperature,
            max_rollouts=max_rollouts,
            progress=progress,
        )
    except GymcheckError as exc:
        return CheckResult(CHECK_ID, Status.ERROR, str(exc), required=False)
    except Exception as exc:  # the user's model raised: report it, let other checks run
        message = f"the training model failed: {type(exc).__name__}: {exc}".splitlines()[0]
        return CheckResult(CHECK_ID, Status.ERROR, message, required=False)
    result = agreement_result(agreement, max_mult_prob_error=max_mult_prob_error, max_kl=max_kl)
    result.duration_s = time.perf_counter() - started
    return result


def worst_tokens(agreement: Agreement, count: int = MAX_WORST_TOKENS) -> list[dict[str, Any]]:
    order = sorted(
        range(agreement.n_tokens),
        key=lambda k: abs(agreement.gen[k] - agreement.train[k]),
        reverse=True,
    )
    return [
        {
            "rollout_index": agreement.rollout_index[k],
            "turn": agreement.turn[k],
            "token_index": agreement.token_index[k],
            "token_id": agreement.token_id[k],
            "text": agreement.decode([agreement.token_id[k]]),
            "gen": agreement.gen[k],
            "train": agreement.train[k],
        }
        for k in order[:count]
    ]


def agreement_result(
    agreement: Agreement, *, max_mult_prob_error: float = 1.05, max_kl: float = 1e-3
) -> CheckResult:
    """The ``logprob_agreement`` result for measured pairs, with the likely cause on failure."""
    details: dict[str, Any] = {
        "temperature": agreement.temperature,
        "max_mult_prob_error": max_mult_prob_error,
        "max_kl": max_kl,
        "rollouts": agreement.rollouts,
        "per_turn_rollouts": agreement.per_turn_rollouts,
        "missing_logprobs": agreement.missing_logprobs,
        "skipped": agreement.skipped,
    }
    if agreement.per_turn_rollouts:
        details["notes"] = [
            f"{agreement.per_turn_rollouts} rollout(s) break token continuity: each turn was "
            "scored separately (its prompt + its generation)"
        ]
    if agreement.n_tokens == 0:
        why = "no generated token with a numeric generation_log_probs entry to compare"
        if agreement.skipped:
            why += f" ({agreement.skipped[0]})"
        return CheckResult(CHECK_ID, Status.SKIP, why, required=False, details=details)
    metrics = agreement_metrics(agreement.gen, agreement.train)
    details.update(metrics)
    details["worst_tokens"] = worst_tokens(agreement)
    details["per_rollout"] = _per_rollout(agreement)
    mult, kl = metrics["token_mult_prob_error"], metrics["gen_kl_error"]
    mult_ok, kl_ok = mult <= max_mult_prob_error, kl <= max_kl
    steps = [
        Step(
            "token_mult_prob_error",
            Status.PASS if mult_ok else Status.FAIL,
            f"token_mult_prob_error {mult:.4f} (limit {max_mult_prob_error:g}) "
            f"over {agreement.n_tokens} tokens",
        ),
        Step(
            "gen_kl_error",
            Status.PASS if kl_ok else Status.FAIL,
            f"gen_kl_error {kl:.2e} (limit {max_kl:g}), max |Δ| {metrics['max_abs_diff']:.3g}",
        ),
    ]
    if mult_ok and kl_ok:
        return CheckResult(
            CHECK_ID,
            Status.PASS,
            f"Trainer and engine log-probs agree over {agreement.n_tokens} tokens "
            f"(mult error {mult:.4f}, KL {kl:.2e})",
            required=False,
            details=details,
            steps=steps,
        )
    cause, message, fix, evidence = diagnose(agreement, metrics, max_kl=max_kl)
    details["cause"] = cause
    details["diagnosis"] = evidence
    worst = details["worst_tokens"][0]
    finding = Finding(
        "logprob_mismatch",
        message,
        rollout_index=worst["rollout_index"],
        cause=cause,
        turn=worst["turn"],
        token_index=worst["token_index"],
        expected=f"{worst['text']!r} (id {worst['token_id']}) gen logprob {worst['gen']:.4f}",
        actual=f"{worst['text']!r} (id {worst['token_id']}) train logprob {worst['train']:.4f}",
        fix=fix,
        details={"token_id": worst["token_id"], **evidence},
    )
    return CheckResult(
        CHECK_ID,
        Status.FAIL,
        f"Trainer and engine log-probs disagree ({cause}): mult error {mult:.4f}, KL {kl:.2e}",
        required=False,
        details=details,
        steps=steps,
        findings=[finding],
    )


def _per_rollout(agreement: Agreement) -> list[dict[str, Any]]:
    groups: dict[int, tuple[list[float], list[float]]] = {}
    for k in range(agreement.n_tokens):
        gen, train = groups.setdefault(agreement.rollout_index[k], ([], []))
        gen.append(agreement.gen[k])
        train.append(agreement.train[k])
    return [
        {"rollout_index": index, **agreement_metrics(gen, train)}
        for index, (gen, train) in sorted(groups.items())
    ]


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


def diagnose(
    agreement: Agreement, metrics: Mapping[str, float], *, max_kl: float
) -> tuple[str, str, str, dict[str, Any]]:
    """``(cause, message, fix, evidence)`` for log-probs that disagree."""
    kl = metrics["gen_kl_error"]
    evidence: dict[str, Any] = {}
    # 1. Shifted by one position: the engine's log-probs fit the neighbouring token's.
    for shift in (1, -1):
        gen, train = agreement.shifted[shift]
        shifted = agreement_metrics(gen, train)
        evidence[f"shift_{shift:+d}"] = shifted
        if shifted["n_tokens"] and shifted["gen_kl_error"] <= max(max_kl, _IMPROVES * kl):
            side = "next" if shift < 0 else "previous"
            return (
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
            return "temperature_mismatch", message, fix, evidence
    # 3. Processed log-probs: renormalized over the top-k / top-p set the engine sampled from.
    truncation = fit_truncation(agreement)
    if truncation is not None:
        kind, value, cut_kl = truncation
        evidence["fitted_truncation"] = {kind: value, "kl": cut_kl}
        if cut_kl <= max(max_kl, _IMPROVES * kl):
            return (
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
        return (
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
        return (
            "dtype_mismatch",
            "small, unbiased differences at every token: the engine and trainer compute in "
            f"different precision (the trainer ran {agreement.model_dtype})",
            "run both sides in the same dtype (e.g. vLLM --dtype float32 and a float32 "
            "trainer), or raise --max-kl if bf16 noise is expected",
            evidence,
        )
    return (
        "wrong_checkpoint",
        "large differences that no shift, temperature or renormalization explains: the trainer "
        "is not scoring with the weights that generated the rollouts",
        "load the checkpoint the engine served (check the weight sync after each step and the "
        "model path)",
        evidence,
    )
