"""acmeca's own ACME provisioner settings: certificate profiles, renewal info (ARI) and rate limits.

Profile rule: a profile's ``validity`` replaces the claims' *default* duration but must be admitted by the
provisioner's claims (``minTLSCertDuration`` <= validity <= ``maxTLSCertDuration``); a profile the claims
would refuse is a configuration error at load, never a failure at finalize. An operator who wants a 30-day
profile raises ``maxTLSCertDuration`` explicitly, so the claims stay the one ceiling every front end honours.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from acmeca.config.errors import ConfigError
from acmeca.config.issuance import PROFILE_LINT
from acmeca.config.registry import Key, Reader, section
from acmeca.domain.claims import Claims
from acmeca.domain.durations import format_duration, parse_duration
from acmeca.domain.errors import Malformed
from acmeca.domain.key_usage import ExtendedKeyUsage

DEFAULT_PROFILE = "default"
DEFAULT_DESCRIPTION = "The provisioner's default certificate"
DEFAULT_EXT_KEY_USAGE = (ExtendedKeyUsage.SERVER_AUTH, ExtendedKeyUsage.CLIENT_AUTH)
_MAX_PROFILE_NAME = 64

PROFILE = section("authority.provisioners[].profiles.NAME", "One ACME certificate profile, chosen by name.", (
    Key("description", "string", "Shown to clients in the directory's meta.profiles."),
    Key("validity", "duration", "Certificate lifetime; must lie within the provisioner's claims.",
        default="the claims' defaultTLSCertDuration"),
    Key("extKeyUsage", "list of strings", "Extended key usages: " + ", ".join(e.value for e in ExtendedKeyUsage),
        default='["serverAuth", "clientAuth"]'),
    Key("omitCommonName", "boolean", "Leave the subject common name empty.", default="false"),
    Key("lint", "object", "Extra pre-issuance lint sets for this profile."),
))
RENEWAL_INFO = section("authority.provisioners[].renewalInfo", "ACME Renewal Information (RFC 9773) windows.", (
    Key("windowStart", "number", "Start of the suggested renewal window, as a fraction of the lifetime.",
        default="0.66"),
    Key("windowEnd", "number", "End of the suggested renewal window, as a fraction of the lifetime.",
        default="0.8"),
    Key("retryAfter", "duration", "Retry-After sent with renewal info.", default="6h"),
))
LIMIT_NAMES = ("newOrdersPerAccount", "failedValidationsPerAccountPerIdentifier", "newAccountsPerIP")
RATE_LIMITS = section("authority.provisioners[].rateLimits", 'Rate limits, each "count/period" such as "300/3h".', (
    Key("newOrdersPerAccount", "rate", "New orders per account."),
    Key("failedValidationsPerAccountPerIdentifier", "rate", "Failed validations per account and identifier."),
    Key("newAccountsPerIP", "rate", "New accounts per client IP address."),
))


@dataclass(frozen=True)
class ProfileConfig:
    name: str
    description: str = DEFAULT_DESCRIPTION
    validity: timedelta | None = None  # None: the claims' default
    ext_key_usage: tuple[ExtendedKeyUsage, ...] = DEFAULT_EXT_KEY_USAGE
    omit_common_name: bool = False
    lint_cabf: bool = False  # also lint with the CA/B Forum server-auth (subscriber) validators


DEFAULT = ProfileConfig(DEFAULT_PROFILE)


def read_profiles(reader: Reader, claims: Claims) -> tuple[ProfileConfig, ...]:
    """Every profile of a provisioner, ``default`` first (an operator may redefine it)."""
    profiles: dict[str, ProfileConfig] = {DEFAULT_PROFILE: DEFAULT}
    for path, name, body in reader.entries("profiles"):
        if not name or len(name) > _MAX_PROFILE_NAME or not name.isprintable() or " " in name:
            raise ConfigError(path, f"a profile name must be 1-{_MAX_PROFILE_NAME} printable characters without "
                                    "spaces")
        profiles[name] = _profile(Reader(body, path, PROFILE, reader.notes), name, claims)
    return tuple(profiles.values())


def _profile(reader: Reader, name: str, claims: Claims) -> ProfileConfig:
    validity = reader.duration("validity", timedelta(0)) or None
    if validity is not None and not claims.min_duration <= validity <= claims.max_duration:
        raise reader.fail("validity", (
            f"{format_duration(validity)} is outside the provisioner's claims ({format_duration(claims.min_duration)}"
            f" to {format_duration(claims.max_duration)}); adjust minTLSCertDuration/maxTLSCertDuration or the "
            "profile"
        ))
    return ProfileConfig(
        name=name, description=reader.string("description") or f"Profile {name}", validity=validity,
        ext_key_usage=_ext_key_usage(reader), omit_common_name=reader.boolean("omitCommonName"),
        lint_cabf=reader.child("lint", PROFILE_LINT).boolean("cabf"),
    )


def _ext_key_usage(reader: Reader) -> tuple[ExtendedKeyUsage, ...]:
    if not reader.has("extKeyUsage"):
        return DEFAULT_EXT_KEY_USAGE
    names = reader.strings("extKeyUsage")
    known = {e.value: e for e in ExtendedKeyUsage}
    if not names or any(n not in known for n in names):
        raise reader.fail("extKeyUsage", f"must be a non-empty list of {', '.join(known)}")
    return tuple(dict.fromkeys(known[n] for n in names))


@dataclass(frozen=True)
class RenewalInfoSettings:
    window_start: float = 0.66
    window_end: float = 0.8
    retry_after: timedelta = timedelta(hours=6)


def read_renewal_info(reader: Reader) -> RenewalInfoSettings:
    defaults = RenewalInfoSettings()
    start = reader.number("windowStart", defaults.window_start)
    end = reader.number("windowEnd", defaults.window_end)
    if not 0 <= start < end <= 1:
        raise ConfigError(reader.path, "needs 0 <= windowStart < windowEnd <= 1 (fractions of the lifetime)")
    retry = reader.duration("retryAfter", defaults.retry_after, minimum=timedelta(microseconds=1))
    return RenewalInfoSettings(start, end, retry)


_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    period: timedelta

    @property
    def interval(self) -> timedelta:
        return self.period / self.count


@dataclass(frozen=True)
class RateLimits:
    new_orders_per_account: Limit | None = None
    failed_validations_per_account_per_identifier: Limit | None = None
    new_accounts_per_ip: Limit | None = None


def parse_limit(name: str, text: Any) -> Limit:
    """``"300/3h"`` -> Limit; ValueError says what is wrong."""
    match = _LIMIT.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not of the form 'count/period' (e.g. '300/3h')")
    try:
        period = parse_duration(match.group(2))
    except Malformed:
        raise ValueError(f"invalid period {match.group(2)!r}") from None
    count = int(match.group(1))
    if count <= 0 or period <= timedelta(0):
        raise ValueError("count and period must be positive")
    return Limit(name, count, period)


def read_rate_limits(reader: Reader) -> RateLimits:
    limits = {name: reader.parsed(name, functools.partial(parse_limit, name), None) for name in LIMIT_NAMES}
    return RateLimits(
        new_orders_per_account=limits["newOrdersPerAccount"],
        failed_validations_per_account_per_identifier=limits["failedValidationsPerAccountPerIdentifier"],
        new_accounts_per_ip=limits["newAccountsPerIP"],
    )
