"""One exception tree: everything gymcheck raises on purpose is a ``GymcheckError``."""

from __future__ import annotations


class GymcheckError(Exception):
    """Base of every error gymcheck raises deliberately."""


class UsageError(GymcheckError):
    """Bad flags or unusable input; the CLI exits 2 with the message."""


class TokenizerLoadError(UsageError):
    """A tokenizer path or name that cannot be loaded offline."""


class ModelLoadError(UsageError):
    """A training model path or factory that cannot be loaded."""


class RolloutFormatError(GymcheckError):
    """A rollout record that does not follow NeMo Gym's format."""


class EndpointError(GymcheckError):
    """An OpenAI-compatible endpoint that cannot be reached or answers badly."""


class ProcessorLoadError(UsageError):
    """A ``--processor`` spec or ``--processed`` file that cannot be loaded."""


class InvalidArgumentError(GymcheckError, ValueError):
    """An argument a gymcheck function cannot use; also a ``ValueError``, as callers catch."""


class LengthMismatchError(InvalidArgumentError):
    """Values that must pair one to one do not (engine and trainer log-probs, samples and the
    rollouts they came from)."""


class GymAnswerError(EndpointError, ValueError):
    """A NeMo Gym head server's answer that is not what Gym serves (``/server_instances``)."""
