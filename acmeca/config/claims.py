"""Claims (step-ca names): authority-wide in ``authority.claims``, overridden per provisioner.

One parser serves both levels, ca.json provisioners, provisioners written through the admin API and stored
rows, so a claims block means the same thing wherever it is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from acmeca.config.errors import ConfigError
from acmeca.config.registry import Key, LoadNotes, Reader, Reload, Section, section
from acmeca.domain.claims import Claims

_SSH_CLAIMS = (
    "minUserSSHCertDuration", "maxUserSSHCertDuration", "defaultUserSSHCertDuration", "minHostSSHCertDuration",
    "maxHostSSHCertDuration", "defaultHostSSHCertDuration", "enableSSHCA",
)
_KEYS = (
    Key("minTLSCertDuration", "duration", "Shortest certificate lifetime a client may ask for.", default="5m"),
    Key("maxTLSCertDuration", "duration", "Longest certificate lifetime a client may ask for.", default="24h"),
    Key("defaultTLSCertDuration", "duration", "Lifetime when the client asks for none.", default="24h"),
    Key("disableRenewal", "boolean", "Refuse /renew and /rekey.", default="false"),
    Key("allowRenewalAfterExpiry", "boolean", "Accept an expired certificate for renewal.", default="false"),
    Key("disableSmallstepExtensions", "boolean", "Leave the provisioner extension out of certificates.",
        default="false"),
)
AUTHORITY = section("authority.claims", "Authority-wide claims; provisioners override them key by key.",
                    tuple(Key(k.name, k.kind, k.doc, Reload.RESTART, k.default) for k in _KEYS), _SSH_CLAIMS)
PROVISIONER = section("authority.provisioners[].claims", "A provisioner's claims, merged over the authority's.",
                      _KEYS, _SSH_CLAIMS)


def read_claims(reader: Reader, base: Claims) -> Claims:
    """Merge the claims in ``reader`` over ``base``; refuse min > default > max."""
    positive = timedelta(microseconds=1)
    claims = Claims(
        min_duration=reader.duration("minTLSCertDuration", base.min_duration, minimum=positive),
        max_duration=reader.duration("maxTLSCertDuration", base.max_duration, minimum=positive),
        default_duration=reader.duration("defaultTLSCertDuration", base.default_duration, minimum=positive),
        disable_renewal=reader.boolean("disableRenewal", base.disable_renewal),
        allow_renewal_after_expiry=reader.boolean("allowRenewalAfterExpiry", base.allow_renewal_after_expiry),
        disable_smallstep_extensions=reader.boolean(
            "disableSmallstepExtensions", base.disable_smallstep_extensions
        ),
    )
    if not claims.min_duration <= claims.default_duration <= claims.max_duration:
        raise ConfigError(
            reader.path, "needs minTLSCertDuration <= defaultTLSCertDuration <= maxTLSCertDuration"
        )
    return claims


def parse_claims(document: Mapping[str, Any] | None, *, base: Claims, where: str = "claims",
                 spec: Section = PROVISIONER) -> Claims:
    """Claims from a bare JSON object (the admin API's claims, a CLI flag set); raises ConfigError."""
    return read_claims(Reader({} if document is None else document, where, spec, LoadNotes()), base)
