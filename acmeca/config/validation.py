"""Validation settings: a top-level ``"validation"`` object, overridden key by key per ACME provisioner.

The key names are a contract with operators and external test suites (they point ``resolver`` at their own
DNS server and move the challenge ports), so a typo such as ``http01port`` is refused when ca.json is loaded
rather than leaving validation quietly on port 80.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from acmeca.config.registry import Key, Reader, section
from acmeca.domain.addresses import parse_resolver

_POSITIVE = timedelta(microseconds=1)

_KEYS = (
    Key("resolver", "address", "DNS server for validation and CAA lookups, an IP address with an optional port "
        "(\"127.0.0.1:8053\", \"[::1]:53\"); a name is refused. Absent: addresses come from /etc/hosts first, as "
        "step-ca's do, then from the nameservers of the system's resolv.conf.", default=""),
    Key("http01Port", "port", "Port http-01 validation connects to.", default="80"),
    Key("tlsAlpn01Port", "port", "Port tls-alpn-01 validation connects to.", default="443"),
    Key("timeout", "duration", "Time allowed for one validation attempt.", default="10s"),
    Key("denyPrivateAddresses", "boolean",
        "Refuse validation targets in private, loopback and other non-public ranges.", default="false"),
    Key("caaRecheckAfter", "duration",
        "CAA is checked again at finalize when the authorization was validated longer ago than this.",
        default="7h"),
    Key("settleWithin", "duration",
        "How long a challenge or finalize request waits for its outcome before it answers processing with "
        "Retry-After (the work goes on in the background); 0s answers processing at once.", default="2s"),
)
TOP_LEVEL = section("validation", "How challenges are validated (every ACME provisioner).", _KEYS)
PER_PROVISIONER = section(
    "authority.provisioners[].validation",
    "Per ACME provisioner: overrides the top-level validation settings key by key.", _KEYS,
)


@dataclass(frozen=True)
class ValidationSettings:
    """Everything a validator needs to know about where and how long to look."""

    resolver: str | None = None
    http01_port: int = 80
    tls_alpn01_port: int = 443
    timeout: timedelta = timedelta(seconds=10)
    deny_private_addresses: bool = False
    caa_recheck_after: timedelta = timedelta(hours=7)
    # A reply within 2 s does not feel hung and covers validations that succeed at the first try (tens of ms on
    # loopback, a few round trips across the internet); longer ones are retrying or timing out (see ``timeout``).
    settle_within: timedelta = timedelta(seconds=2)

    @property
    def timeout_seconds(self) -> float:
        return self.timeout.total_seconds()


@dataclass(frozen=True)
class ValidationOverride:
    """The keys one provisioner sets; everything left None falls through to the top-level settings."""

    resolver: str | None = None
    http01_port: int | None = None
    tls_alpn01_port: int | None = None
    timeout: timedelta | None = None
    deny_private_addresses: bool | None = None
    caa_recheck_after: timedelta | None = None
    settle_within: timedelta | None = None

    def over(self, top_level: ValidationSettings) -> ValidationSettings:
        changes = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return dataclasses.replace(top_level, **{k: v for k, v in changes.items() if v is not None})


def _resolver(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be an IP address with an optional port, not {value!r}")
    parse_resolver(value)
    return value


def parse_validation(reader: Reader) -> ValidationSettings:
    defaults = ValidationSettings()
    return ValidationSettings(
        resolver=reader.parsed("resolver", _resolver, None),
        http01_port=reader.port("http01Port", defaults.http01_port),
        tls_alpn01_port=reader.port("tlsAlpn01Port", defaults.tls_alpn01_port),
        timeout=reader.duration("timeout", defaults.timeout, minimum=_POSITIVE),
        deny_private_addresses=reader.boolean("denyPrivateAddresses", defaults.deny_private_addresses),
        caa_recheck_after=reader.duration("caaRecheckAfter", defaults.caa_recheck_after, minimum=_POSITIVE),
        settle_within=reader.duration("settleWithin", defaults.settle_within, minimum=timedelta(0)),
    )


def parse_override(reader: Reader) -> ValidationOverride:
    full = parse_validation(reader)
    return ValidationOverride(**{
        f.name: getattr(full, f.name) for f in dataclasses.fields(ValidationOverride)
        if reader.has(_JSON_NAMES[f.name])
    })


_JSON_NAMES = {
    "resolver": "resolver", "http01_port": "http01Port", "tls_alpn01_port": "tlsAlpn01Port", "timeout": "timeout",
    "deny_private_addresses": "denyPrivateAddresses", "caa_recheck_after": "caaRecheckAfter",
    "settle_within": "settleWithin",
}
