"""Certificate validity from a request and the claims, with step-ca's rules and messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from acmeca.domain.claims import Claims
from acmeca.domain.durations import format_duration
from acmeca.domain.errors import Forbidden, Malformed
from acmeca.engine.requests import Validity

GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Go's ``time.Time{}``: step sends it for a time it leaves unset (ACME newOrder); step-ca reads it as unset."""


def requested_time(value: datetime, name: str) -> datetime | None:
    """A requested notBefore/notAfter in UTC; Go's zero time is None (unset), as step-ca reads it.

    A time UTC cannot hold (``0001-01-01T00:00:00+01:00``) is ``Malformed`` naming the field.
    """
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise Malformed(f"{name} {value.isoformat()} is out of range") from None
    return None if utc == GO_ZERO_TIME else utc


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
    """step-ca's ``profileDefaultDuration`` then ``validityValidator``.

    notBefore defaults to now − backdate; a default notAfter counts from the unbackdated start. The duration
    checked against the claims is the certificate's own, notAfter − notBefore in whole seconds, backdate
    included, and the maximum admits the backdate. So ``step ca certificate --not-after 5m``, whose absolute
    notAfter was computed a second or two before the request arrived, meets a 5m minimum, as on step-ca.
    """
    start = requested.not_before or now
    not_before = requested.not_before or now - backdate
    try:
        not_after = requested.not_after or start + (default or claims.default_duration)
    except OverflowError:
        raise Malformed("notBefore is out of range") from None
    if not_after <= now:  # step-ca's order of checks
        raise Malformed("notAfter is in the past")
    if not_after <= not_before:
        raise Malformed("notAfter must be after notBefore")
    duration = not_after.replace(microsecond=0) - not_before.replace(microsecond=0)
    if duration < claims.min_duration:
        raise Forbidden(
            f"requested duration of {format_duration(duration)} is less than the authorized minimum "
            f"certificate duration of {format_duration(claims.min_duration)}"
        )
    maximum = claims.max_duration + backdate  # step-ca: "not technically correct ... good enough"
    if duration > maximum:
        raise Forbidden(
            f"requested duration of {format_duration(duration)} is more than the authorized maximum "
            f"certificate duration of {format_duration(maximum)}"
        )
    if issuer_not_after is not None and not_after > issuer_not_after:
        not_after = issuer_not_after
    return ResolvedValidity(not_before=not_before, not_after=not_after)
