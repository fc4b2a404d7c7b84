"""Evaluate one X.509 policy level against the names of a certificate (stepca.md §5.2).

Per name: no constraints at all → allowed; some allow rule exists but none (allow or deny) for this name's
type → refused ("not explicitly permitted"); any deny match → refused (deny wins); a non-empty allow list
for the type must match. The common name is allowed by a literal ``cn`` allow rule, refused by a ``cn`` deny
rule, and otherwise classified (ip / email / uri / dns) and checked as that type, reported as ``cn``.

The result is a :class:`Violation` rather than an exception so each front end picks its own error: the
engine answers 403, ACME newOrder answers ``rejectedIdentifier``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import idna

from acmeca.policy.matching import Unmatchable, match_domain, match_email, match_ip, split_mailbox, uri_host
from acmeca.policy.rules import NameRules, parse_x509_policy

T = TypeVar("T")
C = TypeVar("C")


@dataclass(frozen=True)
class CertificateNames:
    """Every name a certificate would carry."""

    common_name: str | None = None
    dns: Sequence[str] = ()
    ips: Sequence[str] = ()
    emails: Sequence[str] = ()
    uris: Sequence[str] = ()


@dataclass(frozen=True)
class Violation:
    name_type: str  # dns | ip | email | uri | cn
    name: str
    reason: str

    def __str__(self) -> str:
        return f'{self.name_type} name "{self.name}" not allowed'


class X509Policy:
    """One level (authority, provisioner or ACME key) of X.509 name rules."""

    def __init__(self, allow: NameRules, deny: NameRules, *, allow_wildcard_names: bool = False) -> None:
        self.allow = allow
        self.deny = deny
        self.allow_wildcard_names = allow_wildcard_names

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> X509Policy:
        allow, deny, wildcards = parse_x509_policy(document)
        return cls(allow, deny, allow_wildcard_names=wildcards)

    @property
    def is_empty(self) -> bool:
        return self.allow.count + self.deny.count == 0

    def violation(self, names: CertificateNames) -> Violation | None:
        """The first refused name, or None when every name passes this level."""
        if self.is_empty:
            return None
        found = self._common_name_violation(names.common_name)
        return found or self._san_violation(names.dns, names.ips, names.emails, names.uris)

    def _san_violation(
        self, dns: Iterable[str], ips: Iterable[str], emails: Iterable[str], uris: Iterable[str]
    ) -> Violation | None:
        for check, values in ((self._check_dns, dns), (self._check_ip, ips),
                              (self._check_email, emails), (self._check_uri, uris)):
            for value in values:
                found = check(value)
                if found:
                    return found
        return None

    def _common_name_violation(self, common_name: str | None) -> Violation | None:
        if not common_name:
            return None
        lowered = common_name.lower()
        if lowered in self.deny.common_names:
            return Violation("cn", common_name, "common name is denied")
        if lowered in self.allow.common_names:
            return None
        found = self._san_violation(*_classify(common_name))
        return Violation("cn", common_name, found.reason) if found else None

    def _type_unconstrained(self, allow: Sequence[object], deny: Sequence[object]) -> bool:
        """True when some allow rule exists but none of this type: such names are not explicitly permitted."""
        return not allow and not deny and self.allow.count > 0

    def _check_dns(self, name: str) -> Violation | None:
        if self._type_unconstrained(self.allow.dns, self.deny.dns):
            return Violation("dns", name, "not explicitly permitted by any constraint")
        if not self.allow.dns and not self.deny.dns:
            return None
        domain = _ascii_dns(name)
        if domain is None:
            return Violation("dns", name, "cannot parse dns name")
        if domain.startswith("*.") and not self.allow_wildcard_names:
            return Violation("dns", name, "wildcard names are not allowed")
        return _decide("dns", name, domain, self.allow.dns, self.deny.dns, match_domain)

    def _check_ip(self, value: str) -> Violation | None:
        if self._type_unconstrained(self.allow.ips, self.deny.ips):
            return Violation("ip", value, "not explicitly permitted by any constraint")
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return Violation("ip", value, "cannot parse ip address")
        return _decide("ip", value, address, self.allow.ips, self.deny.ips, match_ip)

    def _check_email(self, value: str) -> Violation | None:
        if self._type_unconstrained(self.allow.emails, self.deny.emails):
            return Violation("email", value, "not explicitly permitted by any constraint")
        if not self.allow.emails and not self.deny.emails:
            return None
        try:
            mailbox = split_mailbox(value)
        except Unmatchable as exc:
            return Violation("email", value, str(exc))
        return _decide("email", value, mailbox, self.allow.emails, self.deny.emails, match_email)

    def _check_uri(self, value: str) -> Violation | None:
        if self._type_unconstrained(self.allow.uris, self.deny.uris):
            return Violation("uri", value, "not explicitly permitted by any constraint")
        if not self.allow.uris and not self.deny.uris:
            return None
        try:
            host = uri_host(value)
        except Unmatchable as exc:
            return Violation("uri", value, str(exc))
        return _decide("uri", value, host, self.allow.uris, self.deny.uris, match_domain)


def _decide(
    name_type: str, shown: str, value: T, allow: Sequence[C], deny: Sequence[C], match: Callable[[T, C], bool]
) -> Violation | None:
    """Deny first (deny wins), then a non-empty allow list must match."""
    if any(match(value, rule) for rule in deny):
        return Violation(name_type, shown, "matches a deny rule")
    if allow and not any(match(value, rule) for rule in allow):
        return Violation(name_type, shown, "does not match any allow rule")
    return None


def _ascii_dns(name: str) -> str | None:
    """A-label form of a requested DNS name; ``*`` is only ever the whole first label."""
    wildcard = name.startswith("*.")
    body = name[2:] if wildcard else name
    if not body or "*" in body or body.endswith(".") or ".." in body:
        return None
    try:
        ascii_body = body.lower() if body.isascii() else idna.encode(body, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None
    return "*." + ascii_body if wildcard else ascii_body


def _classify(common_name: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """Split a CN into (dns, ips, emails, uris) the way step's SplitSANs does."""
    try:
        ipaddress.ip_address(common_name)
    except ValueError:
        pass
    else:
        return [], [common_name], [], []
    if "@" in common_name:
        return [], [], [common_name], []
    if "://" in common_name or common_name.split(":", 1)[0] in ("urn", "mailto", "spiffe"):
        return [], [], [], [common_name]
    return [common_name], [], [], []
