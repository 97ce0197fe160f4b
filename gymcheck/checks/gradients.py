"""``gradient_flow``: processed rollouts give a training signal that trains the generated tokens.

What passes here is stricter than "some gradient exists": the loss mask is 1 exactly on the
generated tokens; the loss over the full sequence (prompt context included) is finite and
non-zero; every trainable parameter gets a finite, non-zero gradient; the gradient w.r.t. the
logits is exactly zero at every position whose next token was not generated; and one optimizer
step on a policy-gradient loss (advantage = reward - mean) moves the generated tokens'
log-likelihood the way the advantages say.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gymcheck.errors import GymcheckError
from gymcheck.report import CheckResult, Finding, Status, Step
from gymcheck.training import (
    TrainingSample,
    TrainModel,
    as_train_model,
    build_samples,
    check_token_range,
    next_token_logprobs,
    torch_missing_reason,
    train_model_or_reason,
)

CHECK_ID = "gradient_flow"
DEFAULT_LEARNING_RATE = 1e-3
_STEP_SHRINK = (1.0, 0.1, 0.01)
_CONTEXT = 8

_FIX_MASK = (
    "build the loss mask from the message_log: 1 on the ids of trainable (assistant) entries, "
    "0 on prompt slices, aligned to the target tokens (mask[t] weights log p(token[t] | :t))"
)


def check_gradient_flow(
    records: Sequence[Mapping[str, Any]],
    model: TrainModel | str,
    *,
    max_rollouts: int = 4,
    learning_rate: float = DEFAULT_LEARNING_RATE,
) -> CheckResult:
    """Run ``gradient_flow`` on the first ``max_rollouts`` rollouts with generated tokens."""
    started = time.perf_counter()
    train_model, reason = train_model_or_reason(model)
    if train_model is None:
        return CheckResult(CHECK_ID, Status.SKIP, reason, required=False)
    sample_set = build_samples(records, max_rollouts=max_rollouts)
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
    return result


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
    try:
        run = _GradientRun(train_model, list(samples), learning_rate)
        run.execute()
    except GymcheckError as exc:
        return CheckResult(CHECK_ID, Status.ERROR, str(exc), required=False, details=details)
    except Exception as exc:  # the user's model raised: report it, let other checks run
        message = f"the training model failed: {type(exc).__name__}: {exc}".splitlines()[0]
        return CheckResult(CHECK_ID, Status.ERROR, message, required=False, details=details)
    details.update(run.details)
    failed = [s for s in run.steps if s.status is Status.FAIL]
    status = Status.FAIL if failed or run.findings else Status.PASS
    if status is Status.PASS:
        summary = (
            f"Gradients flow over {len(samples)} sequence(s) "
            f"(loss={details['loss']:.4f}, grad norm={details['grad_norm']:.3g})"
        )
    else:
        summary = f"{len(run.findings)} gradient-flow finding(s): " + ", ".join(
            sorted({f.code for f in run.findings})
        )
    return CheckResult(
        CHECK_ID,
        status,
        summary,
        required=False,
        details=details,
        steps=run.steps,
        findings=run.findings,
        duration_s=time.perf_counter() - started,
    )


def _shifted(mask: list[int], by: int) -> list[int]:
    if by > 0:
        return [0] * by + mask[:-by]
    return mask[-by:] + [0] * -by


def mask_findings(sample: TrainingSample, model: TrainModel) -> list[Finding]:
    """The loss mask against the generated tokens: empty, shifted, covering prompt, partial."""
    mask = [1 if m else 0 for m in sample.sequence.loss_mask]
    ids = sample.sequence.token_ids
    where: dict[str, Any] = {"rollout_index": sample.rollout_index}
    if len(mask) != len(ids):
        return [
            Finding(
                "loss_mask_misaligned",
                f"loss mask has {len(mask)} entries for {len(ids)} tokens",
                cause="mask_length",
                fix=_FIX_MASK,
                **where,
            )
        ]
    if not any(mask):
        return [
            Finding(
                "loss_mask_empty",
                f"the loss mask is all zero over {len(ids)} tokens: nothing would be trained",
                fix=_FIX_MASK,
                **where,
            )
        ]
    expected = sample.generated_mask
    if mask == expected:
        return []
    first = next(i for i, (m, e) in enumerate(zip(mask, expected, strict=True)) if m != e)
    context = ids[max(0, first - _CONTEXT) : first + _CONTEXT]
    common: dict[str, Any] = {
        "token_index": first,
        "turn": sample.turn_at(first) or sample.turn_at(first - 1) or sample.turn_at(first + 1),
        "fix": _FIX_MASK,
        "details": {
            "token_id": int(ids[first]),
            "text": model.decode([ids[first]]),
            "context": model.decode(context),
            "mask_tokens": sum(mask),
            "generated_tokens": sum(expected),
        },
        **where,
    }
    for by in (1, -1):
        if mask == _shifted(expected, by):
            side = "after" if by > 0 else "before"
            return [
                Finding(
                    "loss_mask_misaligned",
                    f"the loss mask is shifted by {by:+d}: it starts one token {side} each "
                    f"generation (token {first}, {model.decode([ids[first]])!r}, is "
                    f"{'trained' if mask[first] else 'not trained'} but "
                    f"{'is not' if mask[first] else 'is'} generated)",
                    cause="mask_shifted",
                    expected=model.decode([ids[i] for i, e in enumerate(expected) if e][:16]),
                    actual=model.decode([ids[i] for i, m in enumerate(mask) if m][:16]),
                    **common,
                )
            ]
    extra = [i for i, (m, e) in enumerate(zip(mask, expected, strict=True)) if m and not e]
    if extra:
        common["token_index"] = extra[0]
        common["turn"] = None
        common["details"]["text"] = model.decode([ids[extra[0]]])
        return [
            Finding(
                "loss_mask_misaligned",
                f"the loss mask covers {len(extra)} token(s) that were not generated "
                f"(prompt, tool output or template), first at token {extra[0]}",
                cause="mask_covers_prompt",
                actual=model.decode([ids[i] for i in extra[:32]]),
                **common,
            )
        ]
    missing = sum(expected) - sum(mask)
    return [
        Finding(
            "loss_mask_misaligned",
            f"the loss mask misses {missing} generated token(s), first at token {first}",
            cause="mask_misses_generation",
            expected=model.decode([ids[first]]),
            **common,
        )
    ]


class _GradientRun:
    """One forward/backward over every sample, one optimizer step, then the weights restored."""

    def __init__(self, model: TrainModel, samples: list[TrainingSample], lr: float) -> None:
        self.model = model
        self.samples = samples
        self.lr = lr
        self.steps: list[Step] = []
        self.findings: list[Finding] = []
        self.details: dict[str, Any] = {}

    def execute(self) -> None:
        import torch

        module = self.model.module
        params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not params:
            self._fail("gradient_missing", "the model has no parameter with requires_grad=True")
            self.steps.append(Step("parameters", Status.FAIL, "No trainable parameters"))
            return
        self._check_masks()
        was_training = module.training
        module.eval()  # no dropout: the step's effect must be measurable, not noise
        originals = [p.detach().clone() for _, p in params]
        try:
            for _, p in params:
                p.grad = None
            usable = self._usable_samples()
            if not usable:
                return
            advantages = self._advantages(usable)
            before = self._forward_backward(usable, advantages)
            if before is None:
                return
            self._check_parameter_gradients(params)
            self._check_update(usable, advantages, before, params, originals)
        finally:
            with torch.no_grad():
                for (_, p), original in zip(params, originals, strict=True):
                    p.copy_(original)
                    p.grad = None
            module.train(was_training)

    # -- helpers -----------------------------------------------------------------------------

    def _fail(self, code: str, message: str, **fields: Any) -> None:
        self.findings.append(Finding(code, message, **fields))

    def _check_masks(self) -> None:
        found = []
        for sample in self.samples:
            found.extend(mask_findings(sample, self.model))
        self.findings.extend(found)
        total = sum(sum(1 for m in s.sequence.loss_mask if m) for s in self.samples)
        generated = sum(sum(s.generated_mask) for s in self.samples)
        self.details["mask_tokens"] = total
        self.details["generated_tokens"] = generated
        if found:
            causes = sorted({f.cause or f.code for f in found})
            self.steps.append(
                Step("loss_mask", Status.FAIL, f"Loss mask is wrong: {', '.join(causes)}")
            )
        else:
            self.steps.append(
                Step(
                    "loss_mask",
                    Status.PASS,
                    f"Loss mask is 1 exactly on the {generated} generated tokens",
                )
            )

    def _usable_samples(self) -> list[TrainingSample]:
        vocab = self._vocab_size()
        usable = []
        for sample in self.samples:
            bad = check_token_range(sample, vocab)
            if bad is not None:
                self._fail(
                    "token_id_out_of_range",
                    f"token id {sample.sequence.token_ids[bad]} is outside the model's "
                    f"vocabulary of {vocab}",
                    rollout_index=sample.rollout_index,
                    token_index=bad,
                    fix="use the training model that generated these rollouts",
                )
                continue
            if any(sample.sequence.loss_mask):
                usable.append(sample)
        if not usable:
            self.steps.append(Step("loss", Status.FAIL, "No sequence has a trainable token"))
        return usable

    def _vocab_size(self) -> int:
        import torch

        with torch.no_grad():
            return int(self.model.logits(torch.zeros((1, 1), dtype=torch.long)).shape[-1])

    def _advantages(self, samples: list[TrainingSample]) -> list[float]:
        rewards = [s.reward for s in samples]
        if all(r is not None for r in rewards):
            mean = sum(r for r in rewards if r is not None) / len(rewards)
            advantages = [float(r) - mean for r in rewards if r is not None]
            if any(abs(a) > 1e-12 for a in advantages):
                self.details["advantage"] = "reward - mean reward"
                return advantages
        # Equal (or missing) rewards give a zero policy gradient; ascend the likelihood instead.
        self.details["advantage"] = "+1 for every sequence (rewards equal or missing)"
        return [1.0] * len(samples)

    def _sequence_logprobs(self, sample: TrainingSample, *, grad: bool) -> tuple[Any, Any]:
        import torch

        ids = torch.tensor([sample.sequence.token_ids], dtype=torch.long)
        with torch.set_grad_enabled(grad):
            logits = self.model.logits(ids)
            if grad:
                logits.retain_grad()
            logprobs = next_token_logprobs(logits[0], ids[0])  # [T-1], targets 1..T-1
        return logits, logprobs

    @staticmethod
    def _mean_over(logprobs: Any, mask: list[int]) -> Any:
        import torch

        weights = torch.tensor(mask[1:], dtype=logprobs.dtype, device=logprobs.device)
        return (logprobs * weights).sum() / weights.sum().clamp(min=1.0)

    def _forward_backward(
        self, samples: list[TrainingSample], advantages: list[float]
    ) -> list[float] | None:
        """Backward of the policy-gradient loss; the generated tokens' mean log-prob per sample."""
        import torch

        n = len(samples)
        total = 0.0
        nll_values = []
        before = []
        outside: list[Finding] = []
        for sample, advantage in zip(samples, advantages, strict=True):
            logits, logprobs = self._sequence_logprobs(sample, grad=True)
            trained = [1 if m else 0 for m in sample.sequence.loss_mask]
            nll = -self._mean_over(logprobs, trained)
            nll_values.append(float(nll.detach()))
            before.append(float(self._mean_over(logprobs.detach(), sample.generated_mask)))
            loss = advantage * nll / n
            total += float(loss.detach())
            if not torch.isfinite(nll):
                continue
            loss.backward()
            outside.extend(self._gradient_outside_generation(sample, logits.grad[0]))
        self.details["loss"] = total
        self.details["nll_per_sequence"] = nll_values
        bad = [v for v in nll_values if not math.isfinite(v)]
        if bad or not math.isfinite(total):
            self._fail(
                "loss_not_finite",
                f"the masked loss is not finite ({bad[0] if bad else total})",
                fix="look for -inf log-probs (a masked-out vocabulary entry, fp16 overflow) "
                "or NaN weights",
            )
            self.steps.append(Step("loss", Status.FAIL, "Loss is not finite"))
            return None
        if all(v == 0.0 for v in nll_values):
            self._fail(
                "loss_zero",
                "the masked loss is exactly zero: the trained tokens carry no signal",
                fix=_FIX_MASK,
            )
            self.steps.append(Step("loss", Status.FAIL, "Loss is exactly zero"))
            return None
        self.steps.append(
            Step("loss", Status.PASS, f"Loss over the full sequence is finite ({total:.4f})")
        )
        self.findings.extend(outside)
        if outside:
            self.steps.append(
                Step(
                    "logit_gradients",
                    Status.FAIL,
                    f"Gradient reaches {len(outside)} sequence(s) outside the generated tokens",
                )
            )
        else:
            self.steps.append(
                Step(
                    "logit_gradients",
                    Status.PASS,
                    "Logit gradients are exactly zero where the next token was not generated",
                )
            )
        return before

    def _gradient_outside_generation(self, sample: TrainingSample, grad: Any) -> list[Finding]:
        """Logit rows ``t - 1`` with a non-zero gradient although token ``t`` was not generated."""
        import torch

        generated = torch.tensor(sample.generated_mask[1:], dtype=torch.bool, device=grad.device)
        nonzero = (grad[:-1] != 0).any(dim=-1)
        leaking = (nonzero & ~generated).nonzero().flatten()
        if leaking.numel() == 0:
            return []
        token_index = int(leaking[0]) + 1
        ids = sample.sequence.token_ids
        return [
            Finding(
                "gradient_outside_generation",
                f"the loss has a gradient at {leaking.numel()} position(s) whose token was not "
                f"generated, first at token {token_index} "
                f"({self.model.decode([ids[token_index]])!r})",
                rollout_index=sample.rollout_index,
                token_index=token_index,
                actual=self.model.decode(ids[max(0, token_index - _CONTEXT) : token_index + 1]),
                fix=_FIX_MASK,
                details={"positions": leaking.numel()},
            )
        ]

    def _check_parameter_gradients(self, params: list[tuple[str, Any]]) -> None:
        import torch

        missing, zero, nonfinite = [], [], []
        squares = 0.0
        for name, p in params:
            if p.grad is None:
                missing.append(name)
            elif not torch.isfinite(p.grad).all():
                nonfinite.append(name)
            elif not p.grad.any():
                zero.append(name)
            else:
                squares += float(p.grad.double().pow(2).sum())
        self.details["parameters"] = len(params)
        self.details["parameters_with_gradient"] = len(params) - len(missing) - len(zero)
        self.details["grad_norm"] = math.sqrt(squares)
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
                f"{len(names)} of {len(params)} trainable parameter(s) get no gradient, "
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
                    f"{len(nonfinite)} non-finite, {len(missing) + len(zero)} missing of "
                    f"{len(params)} parameter gradients",
                )
            )
        else:
            self.steps.append(
                Step(
                    "parameter_gradients",
                    Status.PASS,
                    f"All {len(params)} trainable parameters get finite, non-zero gradients "
                    f"(norm {self.details['grad_norm']:.3g})",
                )
            )

    def _check_update(
        self,
        samples: list[TrainingSample],
        advantages: list[float],
        before: list[float],
        params: list[tuple[str, Any]],
        originals: list[Any],
    ) -> None:
        """One normalized SGD step; the advantage-weighted log-likelihood must rise."""
        import torch

        grad_norm = self.details["grad_norm"]
        if not grad_norm or not math.isfinite(grad_norm):
            self.steps.append(Step("update", Status.FAIL, "No usable gradient to step along"))
            return
        objective_before = sum(a * b for a, b in zip(advantages, before, strict=True))
        tried = []
        for shrink in _STEP_SHRINK:
            lr = self.lr * shrink
            with torch.no_grad():
                for (_, p), original in zip(params, originals, strict=True):
                    if p.grad is not None and torch.isfinite(p.grad).all():
                        p.copy_(original - lr * p.grad / grad_norm)
                after = [
                    float(
                        self._mean_over(self._sequence_logprobs(s, grad=False)[1], s.generated_mask)
                    )
                    for s in samples
                ]
            gain = sum(a * b for a, b in zip(advantages, after, strict=True)) - objective_before
            tried.append({"lr": lr, "objective_change": gain})
            if gain > 0:
                break
        self.details["update"] = {
            "tried": tried,
            "loglik_change": [b - a for a, b in zip(before, after, strict=True)],
            "advantages": advantages,
        }
        if gain > 0:
            self.steps.append(
                Step(
                    "update",
                    Status.PASS,
                    "One optimizer step moves the generated tokens' log-likelihood with the "
                    f"advantages (+{gain:.3g} at lr {tried[-1]['lr']:g})",
                )
            )
            return
        self._fail(
            "update_wrong_direction",
            "one optimizer step on the policy-gradient loss did not raise the "
            f"advantage-weighted log-likelihood of the generated tokens (change {gain:.3g})",
            fix="the loss trains other tokens than the generated ones (check the mask), the "
            "loss sign, or the model's dtype (bf16 weights may not move at a small step)",
            details={"tried": tried},
        )
        self.steps.append(Step("update", Status.FAIL, "Optimizer step moves the wrong way"))
