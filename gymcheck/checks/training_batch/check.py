"""``training_batch``: the trainer's own processed samples are faithful images of the rollouts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from gymcheck.checks.context import CheckContext
from gymcheck.checks.registry import check
from gymcheck.checks.training_batch.diagnose import RolloutBatch, diagnose_rollout
from gymcheck.processing.load import Processing, Processor, load_processing
from gymcheck.report import CheckResult, Status, Step

CHECK_ID = "training_batch"

# One step per part of the sample: which finding codes each one covers.
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("format", ("batch_format",)),
    ("tokens", ("batch_tokens_mismatch", "batch_truncated")),
    (
        "loss_mask",
        (
            "batch_mask_prompt",
            "batch_mask_tool_output",
            "batch_mask_missing_generation",
            "batch_mask_shifted",
        ),
    ),
    (
        "logprobs",
        ("batch_logprobs_shifted", "batch_logprobs_placeholder", "batch_logprobs_mismatch"),
    ),
    ("reward", ("batch_reward_mismatch",)),
    ("failed_rollouts", ("batch_failed_rollout_trained",)),
)


def process_batch(
    records: Sequence[Mapping[str, Any]], processing: Processing, *, tokenizer: Any = None
) -> list[RolloutBatch]:
    """Each rollout with the samples the user's processing made of it, and their findings."""
    return [
        diagnose_rollout(
            record, index, call, tokenizer=tokenizer, batch_format=processing.batch_format
        )
        for index, (record, call) in enumerate(
            zip(records, processing.calls(records, tokenizer), strict=True)
        )
    ]


def training_batch_result(batches: Sequence[RolloutBatch], label: str) -> CheckResult:
    findings = [f for batch in batches for f in batch.findings]
    codes = Counter(f.code for f in findings)
    shapes = Counter(s.shape for batch in batches for s in batch.samples)
    samples = sum(shapes.values())
    bad = sum(1 for batch in batches if batch.findings)
    notes = sorted({n for batch in batches for s in batch.samples for n in s.notes})
    details: dict[str, Any] = {
        "processing": label,
        "rollouts": len(batches),
        "samples": samples,
        "shapes": dict(shapes),
        "per_turn_rollouts": sum(1 for b in batches if len(b.samples) > 1),
        "codes": dict(codes),
        "failed_rollouts": sum(1 for b in batches if b.truth.failed is not None),
    }
    if notes:
        details["notes"] = notes
    steps = [Step("processing", Status.PASS, data={"processing": label, "shapes": dict(shapes)})]
    steps += [
        Step(
            name,
            Status.FAIL if any(codes[c] for c in covered) else Status.PASS,
            data={
                "findings": sum(codes[c] for c in covered),
                "codes": {c: codes[c] for c in covered if codes[c]},
            },
        )
        for name, covered in STEPS
    ]
    if not batches:
        return CheckResult(CHECK_ID, Status.SKIP, "no rollouts to process", details=details)
    shape_text = ", ".join(f"{n} {shape}" for shape, n in sorted(shapes.items())) or "none"
    if findings:
        summary = (
            f"{bad} of {len(batches)} rollouts' samples are not faithful ({label}): "
            + ", ".join(sorted(codes))
        )
        status = Status.FAIL
    else:
        summary = (
            f"{samples} sample(s) ({shape_text}) from {len(batches)} rollouts are faithful "
            f"images of their rollouts ({label})"
        )
        status = Status.PASS
    return CheckResult(CHECK_ID, status, summary, details=details, steps=steps, findings=findings)


@check(CHECK_ID, order=50, required=True, needs=("rollouts", "processor"))
def training_batch(ctx: CheckContext) -> CheckResult:
    """Each rollout's samples from the user's processing (``ctx.processed_batches``, processed
    once for the training checks too), held against the rollout."""
    batches = ctx.processed_batches()
    if batches is None:
        return CheckResult(
            CHECK_ID,
            Status.SKIP,
            "no --processor or --processed: the trainer's processing is not part of this run",
        )
    return training_batch_result(batches, ctx.processing_label)


def check_training_batch(
    records: Sequence[Mapping[str, Any]],
    *,
    processor: str | Processor | None = None,
    processed: str | Any | None = None,
    batch_format: str = "auto",
    tokenizer: Any = None,
) -> CheckResult:
    """Hold the user's processed sample of each rollout against the rollout itself.

    ``processor`` is ``FILE.py:FUNC``, ``module:FUNC`` or the function; ``processed`` a JSONL
    path of dumped samples, one line per rollout. Without either the check is skipped.
    """
    from gymcheck.rollout_inputs import RecordList

    started = time.perf_counter()
    processing = load_processing(
        processor=processor, processed=processed, batch_format=batch_format
    )
    context = CheckContext(tokenizer=tokenizer, rollouts=RecordList(records), processor=processing)
    result = training_batch(context)
    if processing is not None:
        result.duration_s = time.perf_counter() - started
    return result
