"""The torch work of ``gradient_flow``: one forward/backward over every sample, one optimizer
step, then the weights restored. It measures; ``check`` judges and words the result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gymcheck.training import TrainingSample, TrainModel, check_token_range, next_token_logprobs

STEP_SHRINK = (1.0, 0.1, 0.01)


@dataclass(slots=True)
class Leak:
    """Logit rows with a gradient although their next token was not generated."""

    sample: TrainingSample
    token_index: int
    positions: int


@dataclass(slots=True)
class ParameterGradients:
    count: int
    missing: list[str]
    zero: list[str]
    nonfinite: list[str]
    norm: float


@dataclass(slots=True)
class Update:
    """The normalized SGD steps tried, largest first, until the objective rose."""

    tried: list[dict[str, float]]
    gain: float
    loglik_change: list[float]
    advantages: list[float]


@dataclass(slots=True)
class GradientMeasurements:
    """What the run measured, in the order it measured it; a field left unset means the run
    stopped before it (no trainable parameter, nothing usable, an unusable loss)."""

    vocab_size: int | None = None
    out_of_range: list[tuple[TrainingSample, int]] = field(default_factory=list)
    usable: list[TrainingSample] = field(default_factory=list)
    advantages: list[float] = field(default_factory=list)
    advantage_from_rewards: bool = False
    nll_per_sequence: list[float] | None = None
    loss: float = 0.0
    leaks: list[Leak] = field(default_factory=list)
    parameters: ParameterGradients | None = None
    update: Update | None = None

    @property
    def loss_not_finite(self) -> float | None:
        """The first non-finite loss value, or ``None`` when all are finite."""
        bad = [v for v in self.nll_per_sequence or [] if not math.isfinite(v)]
        if bad:
            return bad[0]
        return None if math.isfinite(self.loss) else self.loss

    @property
    def loss_zero(self) -> bool:
        return self.nll_per_sequence is not None and all(v == 0.0 for v in self.nll_per_sequence)

    @property
    def loss_usable(self) -> bool:
        return self.nll_per_sequence is not None and not (
            self.loss_not_finite is not None or self.loss_zero
        )


def trainable_parameters(model: TrainModel) -> list[tuple[str, Any]]:
    return [(n, p) for n, p in model.module.named_parameters() if p.requires_grad]


def measure_gradients(
    model: TrainModel, samples: list[TrainingSample], lr: float
) -> GradientMeasurements:
    """Train on ``samples`` once and measure; the model comes back unchanged."""
    import torch

    measured = GradientMeasurements()
    module = model.module
    params = trainable_parameters(model)
    was_training = module.training
    module.eval()  # no dropout: the step's effect must be measurable, not noise
    originals = [p.detach().clone() for _, p in params]
    try:
        for _, p in params:
            p.grad = None
        _select_usable(model, samples, measured)
        if not measured.usable:
            return measured
        _set_advantages(measured)
        before = _forward_backward(model, measured)
        if not measured.loss_usable:
            return measured
        measured.parameters = _parameter_gradients(params)
        norm = measured.parameters.norm
        if norm and math.isfinite(norm):
            measured.update = _step(model, measured, before, params, originals, lr)
    finally:
        with torch.no_grad():
            for (_, p), original in zip(params, originals, strict=True):
                p.copy_(original)
                p.grad = None
        module.train(was_training)
    return measured


def _select_usable(
    model: TrainModel, samples: list[TrainingSample], measured: GradientMeasurements
) -> None:
    vocab = measured.vocab_size = model.vocab_size()
    for sample in samples:
        bad = check_token_range(sample, vocab)
        if bad is not None:
            measured.out_of_range.append((sample, bad))
        elif any(sample.sequence.loss_mask):
            measured.usable.append(sample)


def _set_advantages(measured: GradientMeasurements) -> None:
    rewards = [s.reward for s in measured.usable]
    if all(r is not None for r in rewards):
        mean = sum(r for r in rewards if r is not None) / len(rewards)
        advantages = [float(r) - mean for r in rewards if r is not None]
        if any(abs(a) > 1e-12 for a in advantages):
            measured.advantages, measured.advantage_from_rewards = advantages, True
            return
    # Equal (or missing) rewards give a zero policy gradient; ascend the likelihood instead.
    measured.advantages = [1.0] * len(measured.usable)


def _sequence_logprobs(model: TrainModel, sample: TrainingSample, *, grad: bool) -> tuple[Any, Any]:
    import torch

    ids = torch.tensor([sample.sequence.token_ids], dtype=torch.long)
    with torch.set_grad_enabled(grad):
        logits = model.logits(ids)
        if grad:
            logits.retain_grad()
        logprobs = next_token_logprobs(logits[0], ids[0])  # [T-1], targets 1..T-1
    return logits, logprobs


def _mean_over(logprobs: Any, mask: list[int]) -> Any:
    import torch

    weights = torch.tensor(mask[1:], dtype=logprobs.dtype, device=logprobs.device)
    return (logprobs * weights).sum() / weights.sum().clamp(min=1.0)


def _forward_backward(model: TrainModel, measured: GradientMeasurements) -> list[float]:
    """Backward of the policy-gradient loss; the generated tokens' mean log-prob per sample."""
    import torch

    samples = measured.usable
    n = len(samples)
    total = 0.0
    nll_values = []
    before = []
    for sample, advantage in zip(samples, measured.advantages, strict=True):
        logits, logprobs = _sequence_logprobs(model, sample, grad=True)
        trained = [1 if m else 0 for m in sample.sequence.loss_mask]
        nll = -_mean_over(logprobs, trained)
        nll_values.append(float(nll.detach()))
        before.append(float(_mean_over(logprobs.detach(), sample.generated_mask)))
        loss = advantage * nll / n
        total += float(loss.detach())
        if not torch.isfinite(nll):
            continue
        loss.backward()
        leak = _gradient_outside_generation(sample, logits.grad[0])
        if leak is not None:
            measured.leaks.append(leak)
    measured.loss = total
    measured.nll_per_sequence = nll_values
    return before


def _gradient_outside_generation(sample: TrainingSample, grad: Any) -> Leak | None:
    """Logit rows ``t - 1`` with a non-zero gradient although token ``t`` was not generated."""
    import torch

    generated = torch.tensor(sample.generated_mask[1:], dtype=torch.bool, device=grad.device)
    nonzero = (grad[:-1] != 0).any(dim=-1)
    leaking = (nonzero & ~generated).nonzero().flatten()
    if leaking.numel() == 0:
        return None
    return Leak(sample, int(leaking[0]) + 1, int(leaking.numel()))


def _parameter_gradients(params: list[tuple[str, Any]]) -> ParameterGradients:
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
    return ParameterGradients(len(params), missing, zero, nonfinite, math.sqrt(squares))


def _step(
    model: TrainModel,
    measured: GradientMeasurements,
    before: list[float],
    params: list[tuple[str, Any]],
    originals: list[Any],
    lr: float,
) -> Update:
    """One normalized SGD step; the advantage-weighted log-likelihood must rise."""
    import torch

    assert measured.parameters is not None
    grad_norm = measured.parameters.norm
    samples, advantages = measured.usable, measured.advantages
    objective_before = sum(a * b for a, b in zip(advantages, before, strict=True))
    tried = []
    for shrink in STEP_SHRINK:
        step_lr = lr * shrink
        with torch.no_grad():
            for (_, p), original in zip(params, originals, strict=True):
                if p.grad is not None and torch.isfinite(p.grad).all():
                    p.copy_(original - step_lr * p.grad / grad_norm)
            after = [
                float(_mean_over(_sequence_logprobs(model, s, grad=False)[1], s.generated_mask))
                for s in samples
            ]
        gain = sum(a * b for a, b in zip(advantages, after, strict=True)) - objective_before
        tried.append({"lr": step_lr, "objective_change": gain})
        if gain > 0:
            break
    return Update(tried, gain, [b - a for a, b in zip(before, after, strict=True)], advantages)
