"""Turning a host (name or IP literal) into the addresses a validator connects to, in order.

Shared by http-01 (every redirect hop) and tls-alpn-01 so both apply the same rules: resolve A and AAAA in
parallel, drop reserved addresses when ``denyPrivateAddresses`` is on, then try the first IPv6 address and
fall back once to the first IPv4 address on a connection-level failure (as Boulder does), so a broken IPv6
setup on the applicant's side does not fail an otherwise good validation.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from acmeca.domain.errors import ConnectionProblem, DNSProblem
from acmeca.validation.outcome import Transient
from acmeca.validation.resolver import Addresses, IPAddress, Resolver, is_reserved

T = TypeVar("T")


class ConnectFailed(Exception):
    """A connection-level failure (refused, unreachable, timed out): the next address is worth a try."""

    def __init__(self, error: ConnectionProblem) -> None:
        super().__init__(error.detail)
        self.error = error


@dataclass
class Target:
    """One host a validator talks to, with what was learnt about it for the validation record."""

    host: str
    port: int
    resolved: Addresses
    candidates: tuple[IPAddress, ...]
    used: IPAddress | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The Boulder-style ``validationRecord`` entry for this host."""
        entry: dict[str, Any] = {
            "hostname": self.host,
            "port": str(self.port),
            "addressesResolved": [str(a) for a in self.resolved.all],
            "addressUsed": str(self.used) if self.used is not None else "",
        }
        entry.update(self.extra)
        return entry


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve_target(resolver: Resolver, host: str, port: int, *, deny_private: bool, budget: float) -> Target:
    """Resolve ``host`` and choose at most two candidates: the first IPv6, then the first IPv4 address."""
    literal = literal_address(host)
    if literal is not None:
        resolved = Addresses(ipv6=(literal,), ipv4=()) if literal.version == 6 else Addresses((), (literal,))
    else:
        resolved = await resolver.addresses(host, budget=budget)
    usable = resolved.without_reserved() if deny_private else resolved
    if not usable.all:
        refused = ", ".join(str(a) for a in resolved.all if is_reserved(a))
        if literal is not None:
            raise ConnectionProblem(f"{host} is a reserved address and private addresses are denied")
        raise DNSProblem(f"No valid IP addresses found for {host} (reserved addresses refused: {refused})")
    candidates = usable.ipv6[:1] + usable.ipv4[:1]
    return Target(host=host, port=port, resolved=resolved, candidates=candidates)


async def connect_in_order(target: Target, attempt: Callable[[IPAddress], Awaitable[T]]) -> T:
    """Run ``attempt`` against each candidate address until one gets past the connection stage.

    ``attempt`` raises :class:`ConnectFailed` for connection-level failures; anything else (a verdict, a
    TLS error after connecting) ends the search at once. When every address fails to connect the last
    failure becomes a transient connection problem, so the dispatcher retries it.
    """
    last: ConnectionProblem | None = None
    for address in target.candidates:
        target.used = address
        try:
            return await attempt(address)
        except ConnectFailed as failure:
            last = failure.error
        except asyncio.CancelledError:
            raise
    assert last is not None, "a target always has at least one candidate"
    raise Transient(last)


def host_for_url(address: IPAddress) -> str:
    """An address as it appears in a URL authority: IPv6 in brackets."""
    return f"[{address}]" if address.version == 6 else str(address)
