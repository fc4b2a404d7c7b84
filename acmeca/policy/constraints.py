"""Config-time normalisation of single constraints, so a bad rule is refused when it is written, not at issuance.

Each function takes the text an operator wrote and returns the canonical form the matchers compare against,
or raises :class:`InvalidPolicy` naming the rule. DNS wildcards are stored as a leading dot (``*.example.com``
becomes ``.example.com``), which the matcher reads as "exactly one more label".
"""

from __future__ import annotations

import ipaddress

import idna

from acmeca.domain.errors import Malformed

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidPolicy(Malformed, kind="invalidPolicy"):
    """A policy rule that can never be evaluated sensibly (``*.*.example.com``, ``10.0.0.0/33``)."""


def to_ascii_domain(domain: str) -> str | None:
    """Lower-case A-label form of ``domain`` or None when it is not a domain at all."""
    if not domain or domain != domain.strip() or domain.endswith(".") or ".." in domain:
        return None
    try:
        ascii_name = domain.lower() if domain.isascii() else idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None
    labels = ascii_name.split(".")
    if any(not label or len(label) > 63 for label in labels) or len(ascii_name) > 253:
        return None
    if any(not all(c.isalnum() or c in "-_*" for c in label) for label in labels):
        return None
    return ascii_name


def dns_constraint(rule: str) -> str:
    """``example.com`` (only itself) or ``*.example.com`` (one extra label, stored as ``.example.com``)."""
    text = rule.strip().lower()
    if not text:
        raise InvalidPolicy("dns constraint cannot be empty")
    if ".." in text:
        raise InvalidPolicy(f"dns constraint {rule!r} cannot have empty labels")
    if text.startswith("."):
        raise InvalidPolicy(f"dns constraint {rule!r} with wildcard should start with *")
    if text.rfind("*") > 0:
        raise InvalidPolicy(f"dns constraint {rule!r} can only have a wildcard as its first character")
    if text.startswith("*") and not text.startswith("*."):
        raise InvalidPolicy(f"wildcard in dns constraint {rule!r} can only match a full label")
    wildcard = text.startswith("*.")
    body = text[2:] if wildcard else text
    if _is_ip(body):
        raise InvalidPolicy(f"dns constraint {rule!r} is an IP address: use an ip rule")
    ascii_body = to_ascii_domain(body)
    if ascii_body is None or "*" in ascii_body:
        raise InvalidPolicy(f"cannot parse dns constraint {rule!r}")
    return "." + ascii_body if wildcard else ascii_body


def ip_constraint(rule: str) -> IPNetwork:
    """A CIDR range, or a single address meaning /32 (IPv4) or /128 (IPv6)."""
    text = rule.strip()
    try:
        if "/" in text:
            return ipaddress.ip_network(text, strict=False)
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidPolicy(f"cannot parse ip constraint {rule!r}: not an address or CIDR range") from None
    return ipaddress.ip_network(address)


def email_constraint(rule: str) -> str:
    """``user@example.com`` (one mailbox), ``example.com`` (a domain), ``*.example.com`` (its subdomains)."""
    text = rule.strip()
    if not text:
        raise InvalidPolicy("email constraint cannot be empty")
    if text.count("@") > 1:
        raise InvalidPolicy(f"email constraint {rule!r} contains too many @ characters")
    if text.startswith("@"):
        raise InvalidPolicy(f"email constraint {rule!r} cannot start with @")
    if "@" in text:
        local, _, domain = text.partition("@")
        ascii_domain = to_ascii_domain(domain)
        if not local or "*" in text or ascii_domain is None:
            raise InvalidPolicy(f"cannot parse email constraint {rule!r} as a mailbox")
        return f"{local}@{ascii_domain}"
    if text.startswith("*."):
        text = text[1:]
    subdomains = text.startswith(".")
    ascii_domain = to_ascii_domain(text[1:] if subdomains else text)
    if ascii_domain is None or "*" in ascii_domain:
        raise InvalidPolicy(f"cannot parse email domain constraint {rule!r}")
    return "." + ascii_domain if subdomains else ascii_domain


def uri_constraint(rule: str) -> str:
    """A host rule for URIs, same grammar as DNS (``example.com``, ``*.example.com``/``.example.com``)."""
    text = rule.strip().lower()
    if not text:
        raise InvalidPolicy("uri constraint cannot be empty")
    if ".." in text:
        raise InvalidPolicy(f"uri constraint {rule!r} cannot have empty labels")
    if text.startswith("*."):
        text = text[1:]
    if "*" in text:
        raise InvalidPolicy(f"uri constraint {rule!r} can only have a wildcard as its first label")
    subdomains = text.startswith(".")
    body = text[1:] if subdomains else text
    if _is_ip(body.strip("[]")):
        raise InvalidPolicy(f"uri constraint {rule!r} cannot be an IP address")
    ascii_body = to_ascii_domain(body)
    if ascii_body is None:
        raise InvalidPolicy(f"cannot parse uri constraint {rule!r}")
    return "." + ascii_body if subdomains else ascii_body


def common_name_constraint(rule: str) -> str:
    """A literal common name, compared case-insensitively; wildcards have no meaning here."""
    text = rule.strip()
    if not text:
        raise InvalidPolicy("common name constraint cannot be empty")
    if "*" in text:
        raise InvalidPolicy(f"common name constraint {rule!r} cannot contain a wildcard")
    return text.lower()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
