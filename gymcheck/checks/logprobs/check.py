"""The ``logprob_agreement`` check: measure, then judge against the limits and diagnose."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from gymcheck.checks.context import CheckContext, CheckOptions
from gymcheck.checks.logprobs.diagnose import diagnose
from gymcheck.checks.logprobs.measure import (
    Agreement,
    agreement_metrics,
    measure_logprob_agreement,
)
from gymcheck.checks.registry import check
from gymcheck.errors import GymcheckError
from gymcheck.progress import Progress
from gymcheck.report import CheckResult, Finding, Status, Step
from gymcheck.training import TrainingSample, TrainModel

CHECK_ID = "logprob_agreement"
MAX_WORST_TOKENS = 5


@check(CHECK_ID, order=70, required=False, needs=("rollouts", "train_model"))
def logprob_agreement(ctx: CheckContext) -> CheckResult:
    """Score every rollout with the training model: the user's own samples with a processor
    (the integration under test), else gymcheck's processing of the records."""
    started = time.perf_counter()
    train_model, reason = ctx.training_model_or_reason()
    if train_model is None:
        return ctx.named(CheckResult(CHECK_ID, Status.SKIP, reason, required=False))
    batches = ctx.processed_batches()
    samples = ctx.training_samples
    if batches is not None:
        from gymcheck.checks.training_batch.samples import agreement_samples

        samples = agreement_samples(batches)
    options, report = ctx.options, ctx.progress
    try:
        agreement = measure_logprob_agreement(
            ctx.records(),
            train_model,
            tokenizer=ctx.tokenizer,
            temperature=options.temperature,
            max_rollouts=options.max_rollouts,
            progress=(lambda done, total: report("Recomputing log-probs", done, total))
            if report
            else None,
            samples=samples,
        )
    except GymcheckError as exc:
        return ctx.named(CheckResult(CHECK_ID, Status.ERROR, str(exc), required=False))
    except Exception as exc:  # the user's model raised: report it, let other checks run
        message = f"the training model failed: {type(exc).__name__}: {exc}".splitlines()[0]
        return ctx.named(CheckResult(CHECK_ID, Status.ERROR, message, required=False))
    result = agreement_result(
        agreement, max_mult_prob_error=options.max_mult_prob_error, max_kl=options.max_kl
    )
    result.duration_s = time.perf_counter() - started
    return ctx.named(result)


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
    samples: Sequence[Sequence[TrainingSample]] | None = None,
) -> CheckResult:
    """Compare the training model's log-probs with ``generation_log_probs`` of every rollout.

    ``samples``: the trainer's own processed samples, one list per record (see
    ``measure_logprob_agreement``).
    """
    from gymcheck.rollout_inputs import RecordList

    options = CheckOptions(temperature=temperature, max_rollouts=max_rollouts)
    options.max_mult_prob_error, options.max_kl = max_mult_prob_error, max_kl
    options.name_processing = False
    context = CheckContext(
        tokenizer=tokenizer,
        rollouts=RecordList(records),
        train_model=model,
        training_samples=samples,
        options=options,
        progress=(lambda _label, done, total: progress(done, total)) if progress else None,
    )
    return logprob_agreement(context)


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
    series = {"gen": list(agreement.gen), "train": list(agreement.train)}  # for the plot
    mult, kl = metrics["token_mult_prob_error"], metrics["gen_kl_error"]
    mult_ok, kl_ok = mult <= max_mult_prob_error, kl <= max_kl
    steps = [
        Step(
            "token_mult_prob_error",
            Status.PASS if mult_ok else Status.FAIL,
            data={"value": mult, "limit": max_mult_prob_error, "tokens": agreement.n_tokens},
        ),
        Step(
            "gen_kl_error",
            Status.PASS if kl_ok else Status.FAIL,
            data={"value": kl, "limit": max_kl, "max_abs_diff": metrics["max_abs_diff"]},
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
            series=series,
        )
    diagnosis = diagnose(agreement, metrics, max_kl=max_kl)
    cause, evidence = diagnosis.cause, diagnosis.evidence
    details["cause"] = cause
    details["diagnosis"] = evidence
    worst = details["worst_tokens"][0]
    finding = Finding(
        "logprob_mismatch",
        diagnosis.message,
        rollout_index=worst["rollout_index"],
        cause=cause,
        turn=worst["turn"],
        token_index=worst["token_index"],
        expected=f"{worst['text']!r} (id {worst['token_id']}) gen logprob {worst['gen']:.4f}",
        actual=f"{worst['text']!r} (id {worst['token_id']}) train logprob {worst['train']:.4f}",
        fix=diagnosis.fix,
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
        series=series,
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
