"""How a validator says "try again" without the caller guessing from error text.

A validator raises a plain :class:`~acmeca.domain.errors.CAError` for a final verdict and wraps it in
:class:`Transient` when the same attempt might succeed a moment later (timeouts, SERVFAIL, refused
connections). Only the dispatcher looks at the difference: it retries transients while the budget lasts.
"""

from __future__ import annotations

import time

from acmeca.domain.errors import CAError


class Transient(Exception):
    """A failure worth retrying; ``error`` is the verdict to record if retries run out."""

    def __init__(self, error: CAError) -> None:
        super().__init__(error.detail)
        self.error = error


class Deadline:
    """The wall-clock budget of one validation (``timeout``), shared by every attempt and every hop."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0
