"""``--processor``, ``--processed`` and ``--batch-format``: the trainer's own processing, shared
by ``validate`` and ``gradients``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

PANEL = "Trainer's processing"


class BatchFormat(StrEnum):
    auto = "auto"
    nemo_rl = "nemo-rl"
    trl = "trl"
    verl = "verl"
    hf = "hf"
    flat = "flat"


ProcessorOpt = Annotated[
    str | None,
    typer.Option(
        "--processor",
        metavar="FILE.py:FUNC|MODULE:FUNC",
        help="Your rollout-to-training-sample function f(record, tokenizer); its samples are "
        "checked (training_batch) and trained (gradient_flow, logprob_agreement).",
        rich_help_panel=PANEL,
    ),
]
ProcessedOpt = Annotated[
    Path | None,
    typer.Option(
        "--processed",
        metavar="FILE",
        help="Samples your trainer already dumped: one JSONL line per rollout, in rollout order.",
        rich_help_panel=PANEL,
    ),
]
BatchFormatOpt = Annotated[
    BatchFormat,
    typer.Option(
        "--batch-format",
        help="The samples' shape; auto recognizes it by its keys.",
        rich_help_panel=PANEL,
    ),
]


@dataclass(frozen=True, slots=True)
class ProcessingOptions:
    """The three options as one option group (``gymcheck.cli.options.option_groups``)."""

    processor: ProcessorOpt = None
    processed: ProcessedOpt = None
    batch_format: BatchFormatOpt = BatchFormat.auto
