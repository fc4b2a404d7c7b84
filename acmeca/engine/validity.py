"""Certificate validity from a request and the claims, with step-ca's rules and messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from acmeca.domain.claims import Claims
from acmeca.domain.durations import format_duration
from acmeca.domain.errors import Forbidden, Malformed
from acmeca.engine.requests import Validity


@dataclass(frozen=True)
class ResolvedValidity:
    not_before: datetime
    not_after: datetime


def resolve_validity(
    requested: Validity,
    claims: Claims,
    *,
    now: datetime,
    backdate: timedelta,
    default: timedelta | None = None,
    issuer_not_after: datetime | None = None,
) -> ResolvedValidity:
    """notBefore defaults to now − backdate; the duration is measured from the unbackdated start.

    The backdate protects clients with slightly slow clocks; it is not counted against the claims.
    """
    start = requested.not_before or now
    not_before = requested.not_before or now - backdate
    not_after = requested.not_after or start + (default or claims.default_duration)
    if not_after <= not_before:
        raise Malformed("notAfter must be after notBefore")
    if not_after <= now:
        raise Malformed("notAfter is in the past")
    duration = not_after - start
    if duration < claims.min_duration:
        raise Forbidden(
            f"requested duration of {format_duration(duration)} is less than the authorized minimum "
            f"certificate duration of {format_duration(claims.min_duration)}"
        )
    if duration > claims.max_duration:
        raise Forbidden(
            f"requested duration of {format_duration(duration)} is more than the authorized maximum "
            f"certificate duration of {format_duration(claims.max_duration)}"
        )
    if issuer_not_after is not None and not_after > issuer_not_after:
        not_after = issuer_not_after
    return ResolvedValidity(not_before=not_before, not_after=not_after)
