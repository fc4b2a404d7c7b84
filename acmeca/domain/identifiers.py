"""Identifiers a certificate can be issued for, in canonical form.

DNS names are lower-case A-labels (IDNA 2008 via the stdlib codec is not enough, so we use the ``idna``
package that ships with our HTTP stack); IP addresses are compared as bytes and printed in RFC 5952 form.
This CA is internal: single-label names and private suffixes are legal here, public-suffix rules are not.

``Identifier`` and ``IdentifierType`` live in identifier_types.py, so errors.py can name them without importing
this module (which raises errors); they are re-exported here, where every caller finds them.
"""

from __future__ import annotations

import ipaddress
import re

import idna

from acmeca.domain.errors import Malformed, RejectedIdentifier, UnsupportedIdentifier
from acmeca.domain.identifier_types import Identifier as Identifier
from acmeca.domain.identifier_types import IdentifierType as IdentifierType

MAX_DNS_NAME_OCTETS = 253  # RFC 1035 §2.3.4, without the trailing root dot
MAX_LABEL_OCTETS = 63
_LDH_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def canonical_dns_name(name: str, *, allow_wildcard: bool = True) -> str:
    """Return ``name`` as a lower-case A-label name, or raise RejectedIdentifier/Malformed."""
    if not name or name != name.strip():
        raise Malformed(f"invalid DNS name {name!r}")
    if name.endswith("."):
        raise RejectedIdentifier(f"DNS name {name!r} must not end with a dot")
    wildcard = name.startswith("*.")
    if wildcard and not allow_wildcard:
        raise RejectedIdentifier(f"wildcard name {name!r} is not allowed here")
    rest = name[2:] if wildcard else name
    if "*" in rest:
        raise RejectedIdentifier(f"DNS name {name!r} has a wildcard that is not the whole leftmost label")
    if _looks_like_ip(rest):
        raise RejectedIdentifier(f"{name!r} is an IP address: use an identifier of type ip")
    ascii_name = _to_a_label(rest, original=name)
    if len(ascii_name) > MAX_DNS_NAME_OCTETS:
        raise RejectedIdentifier(f"DNS name {name!r} is longer than {MAX_DNS_NAME_OCTETS} octets")
    for label in ascii_name.split("."):
        if len(label) > MAX_LABEL_OCTETS or not _LDH_LABEL.match(label):
            raise RejectedIdentifier(f"DNS name {name!r} has an invalid label {label!r}")
    return f"*.{ascii_name}" if wildcard else ascii_name


def _to_a_label(name: str, *, original: str) -> str:
    try:
        if name.isascii():
            lowered = name.lower()
            for label in lowered.split("."):
                if label.startswith("xn--"):
                    idna.decode(label)  # rejects invalid punycode
            return lowered
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise RejectedIdentifier(f"DNS name {original!r} is not a valid IDNA name: {exc}") from exc


def _looks_like_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def canonical_ip(value: str) -> str:
    """RFC 5952 text of an IP address given in any form ``ipaddress`` reads (CSR contents, step token SANs).

    Case and zero compression are normalised, since those callers compare addresses, not text. Refused even
    here: prefixes and leading-zero IPv4 (``ipaddress`` does not read them) and IPv6 zone ids (``fe80::1%eth0``:
    a zone is a host-local interface name, not part of the address, and no certificate can carry it) →
    malformed; IPv4-mapped IPv6 addresses (``::ffff:1.2.3.4``) → rejectedIdentifier, because they are
    well-formed but name an IPv4 host in IPv6 clothing, and a certificate for them would not match clients
    that connect over IPv4 (request the IPv4 address instead).
    """
    if "%" in value:
        raise Malformed(f"IP address {value!r} carries a zone id, which is not part of an address")
    try:
        address = ipaddress.ip_address(value)
    except ValueError as exc:
        raise Malformed(f"invalid IP address {value!r}") from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise RejectedIdentifier(
            f"IP address {value!r} is an IPv4-mapped IPv6 address: request {address.ipv4_mapped} instead"
        )
    return str(address)


def ip_identifier_value(value: str) -> str:
    """The value of an ACME ``ip`` identifier, which RFC 8738 §3 requires in canonical textual form.

    The value MUST be the RFC 1123 §2.1 dotted quad or the RFC 5952 §4 IPv6 text, so anything whose text
    differs from ``ipaddress``'s canonical str (upper-case hex, uncompressed or wrongly compressed zeros, a
    zone id, leading zeros) breaks the protocol's syntax and is ``malformed``, not silently rewritten: the
    identifier the client names must be the one the order, its authorizations and the certificate hold.
    The rules of :func:`canonical_ip` apply first (so a mapped address is ``rejectedIdentifier``).
    """
    canonical = canonical_ip(value)
    if canonical != value:
        raise Malformed(f"IP identifier {value!r} is not in canonical RFC 8738 form (expected {canonical!r})")
    return canonical


def parse_identifier(type_: str, value: str) -> Identifier:
    """Build a canonical identifier from wire values; the single entry point for untrusted input."""
    if not isinstance(type_, str) or not isinstance(value, str):
        raise Malformed("identifier type and value must be strings")
    if type_ == IdentifierType.DNS:
        return Identifier(IdentifierType.DNS, canonical_dns_name(value))
    if type_ == IdentifierType.IP:
        return Identifier(IdentifierType.IP, ip_identifier_value(value))
    raise UnsupportedIdentifier(f"identifier type {type_!r} is not supported")


def dns(value: str) -> Identifier:
    return Identifier(IdentifierType.DNS, canonical_dns_name(value))


def ip(value: str) -> Identifier:
    return Identifier(IdentifierType.IP, canonical_ip(value))


def ip_address(identifier: Identifier) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(identifier.value)


def reverse_dns_name(identifier: Identifier) -> str:
    """The in-addr.arpa / ip6.arpa name used as SNI for IP tls-alpn-01 (RFC 8738 §6)."""
    return ipaddress.ip_address(identifier.value).reverse_pointer
