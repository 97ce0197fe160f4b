"""What a check gets: one ``CheckContext`` holding every input a check may need.

Each command fills in what it was given (a base URL, a tokenizer, rollouts, a training model,
options); a check reads what it registered as ``needs``. Rollouts are read once, on first use
(``CheckContext.reading``): both rollout checks read that one inspection, and the checks that
train on the records (``training_batch``, ``gradient_flow``, ``logprob_agreement``) the records
it kept; the training model is loaded once and shared by the training checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gymcheck.checks.registry import Need
from gymcheck.errors import GymcheckError
from gymcheck.progress import StepProgress

if TYPE_CHECKING:
    from gymcheck.checks.training_batch import RolloutBatch
    from gymcheck.report import CheckResult
    from gymcheck.training import TrainingSample, TrainModel

RewardRange = tuple[float, float]


@dataclass(frozen=True, slots=True)
class RolloutReading:
    """One pass over a run's rollouts."""

    collection: CheckResult
    continuity: CheckResult
    records: Sequence[Any] | None
    """The records as read, for the checks that train on them; ``None``: not kept."""


class RolloutInput(Protocol):
    """Where a run's rollouts come from: records in memory, files, a Gym collection."""

    def read(self, tokenizer: Any, options: CheckOptions, *, keep_records: bool) -> RolloutReading:
        """One pass over every rollout: the ``rollout_collection`` and ``token_continuity``
        results (``options``: the reward range, and a vocabulary size without a tokenizer),
        and with ``keep_records`` the records that pass read (records in memory are always
        given)."""
        ...


@dataclass(slots=True)
class CheckOptions:
    """The checks' settings; each command exposes the ones that concern it."""

    reward_range: RewardRange = (0.0, 1.0)
    vocab_size: int | None = None
    """Bound the token ids of records in memory by this vocabulary when there is no tokenizer."""
    timeout: float = 60.0
    """Seconds each endpoint request may take."""
    burst: int = 64
    """Requests in ``http_endpoint``'s latency burst, ``concurrency`` at a time."""
    concurrency: int = 16
    strings: Sequence[str] | None = None
    """More strings for ``token_roundtrip``'s battery."""
    chat_template: str | None = None
    """A Jinja chat template that replaces the tokenizer's own."""
    temperature: float = 1.0
    """The sampling temperature the rollouts were generated with."""
    gradient_rollouts: int = 4
    learning_rate: float = 1e-3
    """``gradient_flow``'s optimizer step."""
    max_rollouts: int | None = None
    """``logprob_agreement`` scores only the first N rollouts."""
    max_mult_prob_error: float = 1.05
    max_kl: float = 1e-3
    name_processing: bool = True
    """The training checks name whose processing they trained (``details.processing`` and a
    first step), as the commands show it; the library's ``check_*`` functions leave it out."""


@dataclass
class CheckContext:
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    tokenizer: Any = None
    rollouts: RolloutInput | None = None
    train_model: TrainModel | str | None = None
    """A loaded model, or where to load it from (a directory or ``module:factory``)."""
    processor: Any = None
    """The user's processing (a ``gymcheck.processing.load.Processing``: their
    rollout-to-training-sample function, or the samples it dumped); ``None``: not given."""
    training_samples: Sequence[Sequence[TrainingSample]] | None = None
    """The trainer's samples already as ``TrainingSample``s, one list per rollout
    (``check_logprob_agreement(samples=...)``), scored instead of gymcheck's processing."""
    options: CheckOptions = field(default_factory=CheckOptions)
    progress: StepProgress | None = None
    _reading: RolloutReading | None = field(default=None, init=False, repr=False)
    _batches: Sequence[RolloutBatch] | None = field(default=None, init=False, repr=False)

    def unmet(self, needs: Sequence[Need]) -> str | None:
        """Why a check with these ``needs`` cannot run here (it is then skipped), or ``None``.

        Loads the training model when one is needed, so that a model that cannot be loaded
        is the user's error (``ModelLoadError``) before the check starts.
        """
        for need in needs:
            reason = self._missing(need)
            if reason is not None:
                return reason
        return None

    def _missing(self, need: Need) -> str | None:
        if need == "base_url" and not self.base_url:
            return "no --base-url: the endpoint is not part of this run"
        if need == "tokenizer" and self.tokenizer is None:
            return "no tokenizer: pass --tokenizer PATH|NAME"
        if need == "rollouts" and self.rollouts is None:
            return "no rollouts: pass --rollouts FILE or collect them through Gym"
        if need == "processor" and self.processor is None:
            return (
                "no --processor or --processed: the trainer's own processing is not part of "
                "this run"
            )
        if need == "train_model":
            return self._training_unmet()
        return None

    def _training_unmet(self) -> str | None:
        from gymcheck.training import as_train_model, torch_missing_reason

        if (reason := torch_missing_reason()) is not None:
            return reason
        if self.train_model is None:
            return "no training model: pass --train-model PATH"
        if self.rollouts is None or not self.records():
            return "no rollouts to train on"
        self.train_model = as_train_model(self.train_model)
        return None

    def training_model_or_reason(self) -> tuple[TrainModel | None, str]:
        """The training model, loaded once, or ``(None, why the training checks skip)``."""
        from gymcheck.training import train_model_or_reason

        if self.train_model is None:
            return None, "no training model: pass --train-model PATH"
        model, reason = train_model_or_reason(self.train_model)
        if model is not None:
            self.train_model = model
        return model, reason

    def named(self, result: CheckResult) -> CheckResult:
        """A training check's ``result``, naming whose processing it trained (when the options
        ask for it)."""
        if not self.options.name_processing:
            return result
        from gymcheck.checks.training_batch.samples import name_processing

        return name_processing(result, self.processing_label)

    def reading(self, *, records: bool = False) -> RolloutReading:
        """The one pass over the rollouts, made on first use. It keeps the records when this
        run trains on them (a processor, training samples, or a training model torch can
        load), so the training checks are served from the same reading; ``records`` asks for
        them whatever the inputs (a pass that did not keep them is then made again)."""
        if self.rollouts is None:
            raise GymcheckError("no rollouts in this context")
        if self._reading is None or (records and self._reading.records is None):
            keep = records or self._trains_on_records()
            self._reading = self.rollouts.read(self.tokenizer, self.options, keep_records=keep)
        return self._reading

    def _trains_on_records(self) -> bool:
        if self.processor is not None or self.training_samples is not None:
            return True
        from gymcheck.training import torch_missing_reason

        return self.train_model is not None and torch_missing_reason() is None

    def rollout_results(self) -> tuple[CheckResult, CheckResult]:
        """``rollout_collection`` and ``token_continuity`` from one pass over the rollouts."""
        reading = self.reading()
        return reading.collection, reading.continuity

    def processed_batches(self) -> Sequence[RolloutBatch] | None:
        """Each rollout with the samples the user's processing made of it (processed once, for
        ``training_batch`` and the training checks), or ``None`` without a processor."""
        if self.processor is None:
            return None
        if self._batches is None:
            from gymcheck.checks.training_batch import process_batch
            from gymcheck.training import TrainModel

            tokenizer = self.tokenizer
            if tokenizer is None and isinstance(self.train_model, TrainModel):
                tokenizer = self.train_model.tokenizer
            self._batches = process_batch(self.records(), self.processor, tokenizer=tokenizer)
        return self._batches

    @property
    def processing_label(self) -> str:
        """Whose processing the training checks train on (``details.processing``)."""
        if self.processor is not None:
            return str(self.processor.label)
        from gymcheck.checks.training_batch.samples import OWN_PROCESSING

        return OWN_PROCESSING

    def records(self) -> Sequence[Any]:
        """The rollout records, from the one reading (an empty list when the run has none)."""
        if self.rollouts is None:
            return []
        records = self.reading(records=True).records
        return records if records is not None else []
