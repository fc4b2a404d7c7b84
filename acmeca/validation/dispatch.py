"""The one entry point the ACME service calls: challenge type -> validator, with retries inside a budget.

One call is one validation of one challenge. Transient failures (timeouts, SERVFAIL, refused connections)
are retried with exponential backoff while ``settings.timeout`` lasts, because a server that is restarting
or a DNS change that is still propagating should not cost the applicant an invalid authorization; anything
else is final at once. Nothing here writes: the caller persists the :class:`ValidationResult`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from acmeca.config import ValidationSettings
from acmeca.domain.errors import CAError, ConnectionProblem, Malformed
from acmeca.domain.identifiers import Identifier
from acmeca.domain.status import ChallengeType
from acmeca.validation.attempt import Attempt
from acmeca.validation.dns01 import validate_dns01
from acmeca.validation.http01 import validate_http01
from acmeca.validation.outcome import Deadline, Transient
from acmeca.validation.resolver import Resolver
from acmeca.validation.tlsalpn01 import validate_tlsalpn01

__all__ = ["ValidationResult", "ValidationSettings", "validate"]

log = logging.getLogger(__name__)

INITIAL_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 2.0

Validator = Callable[[Attempt], Awaitable[None]]

VALIDATORS: dict[ChallengeType, Validator] = {
    ChallengeType.HTTP_01: validate_http01,
    ChallengeType.DNS_01: validate_dns01,
    ChallengeType.TLS_ALPN_01: validate_tlsalpn01,
}


@dataclass(frozen=True)
class ValidationResult:
    """The verdict: ``ok`` or the error to record on the challenge, plus what was seen on the way.

    ``record`` holds ``challengeType``, ``identifier``, ``attempts`` and ``validationRecord`` (a list with
    one entry per host contacted: hostname, port, addressesResolved, addressUsed, url...), ready to show
    to the client for debugging.
    """

    ok: bool
    error: CAError | None
    record: dict[str, Any] = field(default_factory=dict)


async def validate(
    challenge_type: ChallengeType,
    identifier: Identifier,
    token: str,
    key_authorization: str,
    settings: ValidationSettings,
) -> ValidationResult:
    """Validate one challenge; never raises for anything the applicant's side can cause."""
    record: dict[str, Any] = {
        "challengeType": str(challenge_type),
        "identifier": identifier.to_json(),
        "attempts": 0,
        "validationRecord": [],
    }
    problem = _precondition_problem(challenge_type, identifier, token, key_authorization)
    if problem is not None:
        return ValidationResult(ok=False, error=problem, record=record)
    validator = VALIDATORS[challenge_type]
    deadline = Deadline(settings.timeout_seconds)
    resolver = Resolver(settings.resolver)
    delay = INITIAL_BACKOFF_SECONDS
    while True:
        attempt = Attempt(identifier, token, key_authorization, settings, resolver, deadline)
        record["attempts"] += 1
        error = await _run_once(validator, attempt, settings)
        record["validationRecord"] = attempt.records
        if error is None:
            return ValidationResult(ok=True, error=None, record=record)
        if isinstance(error, CAError):
            return ValidationResult(ok=False, error=error, record=record)
        if deadline.remaining() <= delay:
            return ValidationResult(ok=False, error=error.error, record=record)
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_SECONDS)


async def _run_once(validator: Validator, attempt: Attempt, settings: ValidationSettings) -> CAError | Transient | None:
    """One try: None on success, a CAError for a final verdict, a Transient for "try again"."""
    try:
        async with asyncio.timeout(attempt.deadline.remaining()):
            await validator(attempt)
    except Transient as transient:
        return transient
    except CAError as error:
        return error
    except TimeoutError:
        seconds = settings.timeout_seconds
        return Transient(ConnectionProblem(f"Validation of {attempt.identifier.value} timed out after {seconds:g}s"))
    except Exception:
        log.exception("unexpected failure validating %s", attempt.identifier.value)
        return CAError("internal error during validation")
    return None


def _precondition_problem(
    challenge_type: ChallengeType, identifier: Identifier, token: str, key_authorization: str
) -> CAError | None:
    """Refuse combinations that can never be valid, before touching the network."""
    if challenge_type not in VALIDATORS:
        return Malformed(f"unsupported challenge type {challenge_type!r}")
    if not token or not key_authorization.startswith(token + "."):
        return Malformed("the key authorization does not belong to this challenge's token")
    if identifier.is_wildcard and challenge_type is not ChallengeType.DNS_01:
        return Malformed(f"a wildcard name can only be validated with dns-01, not {challenge_type}")
    return None
