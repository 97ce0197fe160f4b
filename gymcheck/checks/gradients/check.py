"""``gradient_flow``: processed rollouts give a training signal that trains the generated tokens.

What passes here is stricter than "some gradient exists": the loss mask is 1 exactly on the
generated tokens; the loss over the full sequence (prompt context included) is finite and
non-zero; every trainable parameter gets a finite, non-zero gradient; the gradient w.r.t. the
logits is exactly zero at every position whose next token was not generated; and one optimizer
step on a policy-gradient loss (advantage = reward - mean) moves the generated tokens'
log-likelihood the way the advantages say.

``run`` does the torch work and returns measurements; this module judges them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from gymcheck.checks.context import CheckContext, CheckOptions
from gymcheck.checks.gradients.mask import CONTEXT_TOKENS, FIX_MASK, mask_findings
from gymcheck.checks.gradients.run import (
    GradientMeasurements,
    ParameterGradients,
    measure_gradients,
    trainable_parameters,
)
from gymcheck.checks.registry import check
from gymcheck.errors import GymcheckError
from gymcheck.report import CheckResult, Finding, Status, Step
from gymcheck.training import (
    TrainingSample,
    TrainModel,
    as_train_model,
    build_samples,
    torch_missing_reason,
)

CHECK_ID = "gradient_flow"
DEFAULT_LEARNING_RATE = 1e-3


@check(CHECK_ID, order=60, required=False, needs=("rollouts", "train_model"))
def gradient_flow(ctx: CheckContext) -> CheckResult:
    """Train the first ``gradient_rollouts`` rollouts with generated tokens: on the user's own
    samples with a processor (the integration under test), else on gymcheck's processing."""
    started = time.perf_counter()
    train_model, reason = ctx.training_model_or_reason()
    if train_model is None:
        return ctx.named(CheckResult(CHECK_ID, Status.SKIP, reason, required=False))
    max_rollouts, learning_rate = ctx.options.gradient_rollouts, ctx.options.learning_rate
    batches = ctx.processed_batches()
    if batches is not None:
        from gymcheck.checks.training_batch.samples import gradient_samples

        chosen = [b for b in batches if b.paired][:max_rollouts]
        samples, notes = gradient_samples(chosen)
        result = gradient_flow_on_sequences(
            samples, train_model, learning_rate=learning_rate, notes=notes
        )
        result.details["rollouts"] = len(chosen)
        return ctx.named(result)
    sample_set = build_samples(ctx.records(), max_rollouts=max_rollouts)
    notes = list(sample_set.skipped)
    if sample_set.per_turn_rollouts:
        notes.append(
            f"{sample_set.per_turn_rollouts} rollout(s) break token continuity: each turn was "
            "trained separately (its prompt + its generation)"
        )
    result = gradient_flow_on_sequences(
        sample_set.samples, train_model, learning_rate=learning_rate, notes=notes
    )
    result.details["rollouts"] = sample_set.rollouts
    result.details["per_turn_rollouts"] = sample_set.per_turn_rollouts
    result.duration_s = time.perf_counter() - started
    return ctx.named(result)


def check_gradient_flow(
    records: Sequence[Mapping[str, Any]],
    model: TrainModel | str,
    *,
    max_rollouts: int = 4,
    learning_rate: float = DEFAULT_LEARNING_RATE,
) -> CheckResult:
    """Run ``gradient_flow`` on the first ``max_rollouts`` rollouts with generated tokens."""
    from gymcheck.rollout_inputs import RecordList

    options = CheckOptions(
        gradient_rollouts=max_rollouts, learning_rate=learning_rate, name_processing=False
    )
    return gradient_flow(
        CheckContext(rollouts=RecordList(records), train_model=model, options=options)
    )


def gradient_flow_on_sequences(
    samples: Sequence[TrainingSample],
    model: TrainModel | str,
    *,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    notes: Sequence[str] = (),
) -> CheckResult:
    """``gradient_flow`` on prebuilt samples: pass your trainer's own sequences and masks here.

    Each sample's ``sequence.loss_mask`` is what gets trained; its ``spans`` say where the
    generated tokens really are. The model's weights are restored afterwards.
    """
    reason = torch_missing_reason()
    if reason:
        return CheckResult(CHECK_ID, Status.SKIP, reason, required=False)
    started = time.perf_counter()
    train_model = as_train_model(model)
    details: dict[str, Any] = {"samples": len(samples), "notes": list(notes)}
    if not samples:
        return CheckResult(
            CHECK_ID,
            Status.SKIP,
            "no rollout with generated tokens to train on",
            required=False,
            details=details,
        )
    verdict = _Verdict(train_model)
    try:
        verdict.judge(list(samples), learning_rate)
    except GymcheckError as exc:
        return CheckResult(CHECK_ID, Status.ERROR, str(exc), required=False, details=details)
    except Exception as exc:  # the user's model raised: report it, let other checks run
        message = f"the training model failed: {type(exc).__name__}: {exc}".splitlines()[0]
        return CheckResult(CHECK_ID, Status.ERROR, message, required=False, details=details)
    details.update(verdict.details)
    failed = [s for s in verdict.steps if s.status is Status.FAIL]
    status = Status.FAIL if failed or verdict.findings else Status.PASS
    if status is Status.PASS:
        summary = (
            f"Gradients flow over {len(samples)} sequence(s) "
            f"(loss={details['loss']:.4f}, grad norm={details['grad_norm']:.3g})"
        )
    else:
        summary = f"{len(verdict.findings)} gradient-flow finding(s): " + ", ".join(
            sorted({f.code for f in verdict.findings})
        )
    return CheckResult(
        CHECK_ID,
        status,
        summary,
        required=False,
        details=details,
        steps=verdict.steps,
        findings=verdict.findings,
        duration_s=time.perf_counter() - started,
    )


class _Verdict:
    """The steps, findings and details of one run, in the order the run measured them."""

    def __init__(self, model: TrainModel) -> None:
        self.model = model
        self.steps: list[Step] = []
        self.findings: list[Finding] = []
        self.details: dict[str, Any] = {}

    def _fail(self, code: str, message: str, **fields: Any) -> None:
        self.findings.append(Finding(code, message, **fields))

    def judge(self, samples: list[TrainingSample], lr: float) -> None:
        if not trainable_parameters(self.model):
            self._fail("gradient_missing", "the model has no parameter with requires_grad=True")
            self.steps.append(Step("parameters", Status.FAIL, data={"trainable": 0}))
            return
        self._masks(samples)
        measured = measure_gradients(self.model, samples, lr)
        self._usable(measured)
        if not measured.usable:
            return
        self.details["advantage"] = (
            "reward - mean reward"
            if measured.advantage_from_rewards
            else "+1 for every sequence (rewards equal or missing)"
        )
        self._loss(measured)
        if measured.parameters is None:
            return
        self._parameters(measured.parameters)
        self._update(measured)

    def _masks(self, samples: list[TrainingSample]) -> None:
        found = []
        for sample in samples:
            found.extend(mask_findings(sample, self.model))
        self.findings.extend(found)
        total = sum(sum(1 for m in s.sequence.loss_mask if m) for s in samples)
        generated = sum(sum(s.generated_mask) for s in samples)
        self.details["mask_tokens"] = total
        self.details["generated_tokens"] = generated
        if found:
            causes = sorted({f.cause or f.code for f in found})
            self.steps.append(
                Step("loss_mask", Status.FAIL, data={"causes": causes, "generated": generated})
            )
        else:
            self.steps.append(
                Step("loss_mask", Status.PASS, data={"causes": [], "generated": generated})
            )

    def _usable(self, measured: GradientMeasurements) -> None:
        for sample, bad in measured.out_of_range:
            self._fail(
                "token_id_out_of_range",
                f"token id {sample.sequence.token_ids[bad]} is outside the model's "
                f"vocabulary of {measured.vocab_size}",
                rollout_index=sample.rollout_index,
                token_index=bad,
                fix="use the training model that generated these rollouts",
            )
        if not measured.usable:
            self.steps.append(Step("loss", Status.FAIL, data={"problem": "no_trainable_token"}))

    def _loss(self, measured: GradientMeasurements) -> None:
        total = measured.loss
        self.details["loss"] = total
        self.details["nll_per_sequence"] = measured.nll_per_sequence
        bad = measured.loss_not_finite
        if bad is not None:
            self._fail(
                "loss_not_finite",
                f"the masked loss is not finite ({bad})",
                fix="look for -inf log-probs (a masked-out vocabulary entry, fp16 overflow) "
                "or NaN weights",
            )
            self.steps.append(Step("loss", Status.FAIL, data={"problem": "not_finite"}))
            return
        if measured.loss_zero:
            self._fail(
                "loss_zero",
                "the masked loss is exactly zero: the trained tokens carry no signal",
                fix=FIX_MASK,
            )
            self.steps.append(Step("loss", Status.FAIL, data={"problem": "zero"}))
            return
        self.steps.append(Step("loss", Status.PASS, data={"loss": total}))
        for leak in measured.leaks:
            ids, at = leak.sample.sequence.token_ids, leak.token_index
            self._fail(
                "gradient_outside_generation",
                f"the loss has a gradient at {leak.positions} position(s) whose token was not "
                f"generated, first at token {at} ({self.model.decode([ids[at]])!r})",
                rollout_index=leak.sample.rollout_index,
                token_index=at,
                actual=self.model.decode(ids[max(0, at - CONTEXT_TOKENS) : at + 1]),
                fix=FIX_MASK,
                details={"positions": leak.positions},
            )
        if measured.leaks:
            self.steps.append(
                Step(
                    "logit_gradients", Status.FAIL, data={"leaking_sequences": len(measured.leaks)}
                )
            )
        else:
            self.steps.append(Step("logit_gradients", Status.PASS, data={"leaking_sequences": 0}))

    def _parameters(self, grads: ParameterGradients) -> None:
        missing, zero, nonfinite = grads.missing, grads.zero, grads.nonfinite
        self.details["parameters"] = grads.count
        self.details["parameters_with_gradient"] = grads.count - len(missing) - len(zero)
        self.details["grad_norm"] = grads.norm
        if nonfinite:
            self._fail(
                "gradient_not_finite",
                f"{len(nonfinite)} parameter(s) have NaN/inf gradients, e.g. {nonfinite[0]}",
                fix="check for NaN weights, -inf log-probs in the loss, or fp16 overflow",
                details={"parameters": nonfinite[:20]},
            )
        if missing or zero:
            names = missing + zero
            self._fail(
                "gradient_missing",
                f"{len(names)} of {grads.count} trainable parameter(s) get no gradient, "
                f"e.g. {names[0]}",
                fix="a detached path, frozen or unused module, or tokens that never reach the "
                "loss; freeze such parameters deliberately (requires_grad=False)",
                details={"no_grad": missing[:20], "zero_grad": zero[:20]},
            )
        if nonfinite or missing or zero:
            self.steps.append(
                Step(
                    "parameter_gradients",
                    Status.FAIL,
                    data={
                        "parameters": grads.count,
                        "nonfinite": len(nonfinite),
                        "missing": len(missing) + len(zero),
                    },
                )
            )
        else:
            self.steps.append(
                Step(
                    "parameter_gradients",
                    Status.PASS,
                    data={
                        "parameters": grads.count,
                        "nonfinite": 0,
                        "missing": 0,
                        "norm": grads.norm,
                    },
                )
            )

    def _update(self, measured: GradientMeasurements) -> None:
        update = measured.update
        if update is None:
            self.steps.append(Step("update", Status.FAIL, data={"problem": "no_gradient"}))
            return
        self.details["update"] = {
            "tried": update.tried,
            "loglik_change": update.loglik_change,
            "advantages": update.advantages,
        }
        gain = update.gain
        if gain > 0:
            self.steps.append(
                Step("update", Status.PASS, data={"gain": gain, "lr": update.tried[-1]["lr"]})
            )
            return
        self._fail(
            "update_wrong_direction",
            "one optimizer step on the policy-gradient loss did not raise the "
            f"advantage-weighted log-likelihood of the generated tokens (change {gain:.3g})",
            fix="the loss trains other tokens than the generated ones (check the mask), the "
            "loss sign, or the model's dtype (bf16 weights may not move at a small step)",
            details={"tried": update.tried},
        )
        self.steps.append(Step("update", Status.FAIL, data={"gain": gain}))
