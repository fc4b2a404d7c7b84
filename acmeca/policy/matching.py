"""Matchers for one requested name against one normalised constraint (see constraints.py for the forms)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from acmeca.policy.constraints import IPNetwork, to_ascii_domain


class Unmatchable(Exception):
    """The requested name cannot be compared with rules at all (URI without host, IP host...): always refused."""


def match_domain(domain: str, constraint: str) -> bool:
    """``example.com`` matches only itself; ``.example.com`` matches exactly one extra label.

    A literal wildcard name (``*.example.com``) reaching here was already admitted by allowWildcardNames and
    is compared like any name: ``*`` is just its first label.
    """
    if not domain or domain.startswith("."):
        return False
    labels = domain.split(".")
    if constraint.startswith("."):
        wanted = constraint[1:].split(".")
        return len(labels) == len(wanted) + 1 and labels[1:] == wanted
    return labels == constraint.split(".")


def match_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address, network: IPNetwork) -> bool:
    return address.version == network.version and address in network


def split_mailbox(email: str) -> tuple[str, str]:
    """``(local part as given, A-label domain)``; raises Unmatchable for a non-mailbox."""
    local, sep, domain = email.rpartition("@")
    ascii_domain = to_ascii_domain(domain) if sep and local else None
    if ascii_domain is None or "*" in ascii_domain:
        raise Unmatchable(f"cannot parse email address {email!r}")
    return local, ascii_domain


def match_email(mailbox: tuple[str, str], constraint: str) -> bool:
    """A constraint with ``@`` is one mailbox (local part case-sensitive); otherwise a domain rule."""
    local, domain = mailbox
    if "@" in constraint:
        c_local, _, c_domain = constraint.rpartition("@")
        return local == c_local and domain == c_domain
    return match_domain(domain, constraint)


def uri_host(uri: str) -> str:
    """The A-label host of ``uri``; URIs with no host, an IP host or a ``*`` in the host cannot be matched."""
    try:
        host = urlsplit(uri).hostname or ""
    except ValueError:
        raise Unmatchable(f"cannot parse URI {uri!r}") from None
    if not host:
        raise Unmatchable(f"URI {uri!r} has an empty host and cannot be matched against constraints")
    if "*" in host:
        raise Unmatchable(f"URI host {host!r} is not allowed")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise Unmatchable(f"URI with IP host ({uri!r}) cannot be matched against constraints")
    ascii_host = to_ascii_domain(host)
    if ascii_host is None:
        raise Unmatchable(f"cannot parse the host of URI {uri!r}")
    return ascii_host
