"""A sign token's ``sans`` and ``cnf`` against the CSR (step-ca §2.5 JWK/X5C validators).

The token, not the CSR, decides the certificate's names: the CSR must ask for exactly the names the token
grants, type by type, and its common name must be the token subject or one of the granted names. step-ca
skips a type the token does not mention; we require equality for every type so a CSR can never carry a name
the certificate silently drops (step's CLI always builds CSRs that pass either rule).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from acmeca.crypto.csr import ParsedCSR
from acmeca.domain.errors import Forbidden, Unauthenticated
from acmeca.domain.identifiers import Identifier, dns, ip


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_uri(value: str) -> bool:
    try:
        return (bool(urlsplit(value).scheme) and "://" in value) or value.startswith(("urn:", "mailto:"))
    except ValueError:
        return False


@dataclass(frozen=True)
class TokenSANs:
    """The token's names split the way step's ``SplitSANs`` does: IP, then URI, then email, else DNS."""

    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> TokenSANs:
        raw = claims.get("sans")
        if raw is None or raw == []:
            raw = [claims.get("sub")]
        if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
            raise Unauthenticated("invalid token: sans must be a list of names")
        return cls.split(raw)

    @classmethod
    def split(cls, names: list[str]) -> TokenSANs:
        dns_names: list[str] = []
        ips: list[str] = []
        emails: list[str] = []
        uris: list[str] = []
        for name in dict.fromkeys(names):
            if _is_ip(name):
                ips.append(str(ipaddress.ip_address(name)))
            elif _is_uri(name):
                uris.append(name)
            elif "@" in name:
                emails.append(name)
            else:
                dns_names.append(name)
        return cls(tuple(dns_names), tuple(ips), tuple(emails), tuple(uris))

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.dns_names, *self.ip_addresses, *self.emails, *self.uris)

    def identifiers(self) -> tuple[Identifier, ...]:
        return (*(dns(n) for n in self.dns_names), *(ip(a) for a in self.ip_addresses))


def _compare(kind: str, got: tuple[str, ...], want: tuple[str, ...], *, fold: bool = False) -> None:
    if {v.lower() if fold else v for v in got} != {v.lower() if fold else v for v in want}:
        raise Forbidden(
            f"certificate request does not contain the valid {kind} - got [{' '.join(got)}], want [{' '.join(want)}]"
        )


def check_csr_against_token(csr: ParsedCSR, subject: str, sans: TokenSANs, cnf: Any) -> None:
    """Raise Forbidden unless the CSR asks for exactly what the token grants (and matches ``cnf``)."""
    if not csr.common_name:
        raise Forbidden("certificate request cannot contain an empty common name")
    if csr.common_name != subject and csr.common_name not in sans.all:
        raise Forbidden(
            f"certificate request does not contain the valid common name - got {csr.common_name}, "
            f"want [{' '.join((subject, *sans.all))}]"
        )
    _compare("DNS names", csr.dns_names, sans.dns_names, fold=True)
    _compare("IP addresses", csr.ip_addresses, sans.ip_addresses)
    _compare("email addresses", csr.emails, sans.emails)
    _compare("URIs", csr.uris, sans.uris)
    if csr.has_other_sans:
        raise Forbidden("certificate request contains unsupported subject alternative names")
    if cnf is None:
        return
    fingerprint = cnf.get("x5rt#S256") if isinstance(cnf, dict) else None
    if not isinstance(fingerprint, str) or fingerprint != csr.fingerprint:
        raise Forbidden("certificate request fingerprint does not match the token's cnf claim")
