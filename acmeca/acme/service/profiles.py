"""ACME certificate profiles (draft-ietf-acme-profiles): certificate contents chosen by name.

Configured per ACME provisioner as
``"profiles": {"shortlived": {"description": "...", "validity": "6h", "extKeyUsage": ["serverAuth"],
"omitCommonName": true}}``. Every ACME provisioner also offers ``default`` (the claims' default validity, the
engine's default extensions) even when nothing is configured; an operator may redefine ``default`` too.

Validity rule: a profile's ``validity`` replaces the claims' *default* duration, but it must be admitted by the
provisioner's claims (``minTLSCertDuration`` <= validity <= ``maxTLSCertDuration``). A profile the claims
would refuse is a configuration error reported when the provisioner is loaded, never a 500 at finalize: an
operator who wants a 30-day profile raises ``maxTLSCertDuration`` explicitly, so the claims stay the one
ceiling every front end honours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from acmeca.domain.claims import Claims
from acmeca.domain.durations import format_duration, parse_duration
from acmeca.domain.errors import Malformed
from acmeca.engine.requests import CertificateProfile, ExtendedKeyUsage

DEFAULT_PROFILE = "default"
DEFAULT_DESCRIPTION = "The provisioner's default certificate"
_KEYS = frozenset({"description", "validity", "extKeyUsage", "omitCommonName"})
_MAX_NAME = 64


@dataclass(frozen=True)
class AcmeProfile:
    """One offered profile: what ``meta.profiles`` shows and what the engine is handed."""

    description: str
    certificate: CertificateProfile

    @property
    def name(self) -> str:
        return self.certificate.name


def parse_profiles(document: Any, claims: Claims, *, where: str) -> dict[str, AcmeProfile]:
    """All profiles of a provisioner, ``default`` included; raises ValueError naming the bad key."""
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ValueError(f"{where}: profiles must be an object mapping names to profiles")
    profiles = {DEFAULT_PROFILE: AcmeProfile(DEFAULT_DESCRIPTION, CertificateProfile(name=DEFAULT_PROFILE))}
    for name, body in document.items():
        profiles[name] = _profile(str(name), body, claims, where=f"{where}: profile {name!r}")
    return profiles


def _profile(name: str, body: Any, claims: Claims, *, where: str) -> AcmeProfile:
    if not name or len(name) > _MAX_NAME or not name.isprintable() or " " in name:
        raise ValueError(f"{where}: a profile name must be 1-{_MAX_NAME} printable characters without spaces")
    if not isinstance(body, Mapping):
        raise ValueError(f"{where} must be an object")
    unknown = set(body) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_KEYS))})")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{where}: description must be a string")
    omit = body.get("omitCommonName", False)
    if not isinstance(omit, bool):
        raise ValueError(f"{where}: omitCommonName must be true or false")
    profile = CertificateProfile(
        name=name, validity=_validity(body.get("validity"), claims, where=where),
        ext_key_usage=_ext_key_usage(body.get("extKeyUsage"), where=where), omit_common_name=omit,
    )
    return AcmeProfile(description or f"Profile {name}", profile)


def _validity(value: Any, claims: Claims, *, where: str) -> timedelta | None:
    if value is None:
        return None
    try:
        validity = parse_duration(value)
    except Malformed:
        raise ValueError(f"{where}: validity {value!r} is not a duration such as \"6h\"") from None
    if not claims.min_duration <= validity <= claims.max_duration:
        raise ValueError(
            f"{where}: validity {format_duration(validity)} is outside the provisioner's claims "
            f"({format_duration(claims.min_duration)} to {format_duration(claims.max_duration)}); "
            "adjust minTLSCertDuration/maxTLSCertDuration or the profile"
        )
    return validity


def _ext_key_usage(value: Any, *, where: str) -> tuple[ExtendedKeyUsage, ...]:
    if value is None:
        return CertificateProfile().ext_key_usage
    known = {e.value: e for e in ExtendedKeyUsage}
    if not isinstance(value, list) or not value or any(v not in known for v in value):
        raise ValueError(f"{where}: extKeyUsage must be a non-empty list of {', '.join(known)}")
    return tuple(dict.fromkeys(known[v] for v in value))
