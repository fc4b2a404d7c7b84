"""The DNS side of validation: an async, non-caching dnspython resolver and the reserved-address filter.

Validation must see what the applicant's DNS says *now*, so nothing is cached, and it must not block the
event loop (``socket.getaddrinfo`` would), so every lookup goes through ``dns.asyncresolver``. The resolver
is configurable (``"resolver": "127.0.0.1:8053"``) so tests and air-gapped sites can point it at their own
server; absent, addresses come from the hosts file first (as step-ca's Go resolver does, see ``hosts.py``),
then from the nameservers in the system's ``resolv.conf``.

Failures are split the way the dispatcher needs them: NXDOMAIN is a final :class:`DNSProblem`; SERVFAIL,
REFUSED and timeouts are :class:`Transient` because the same query may well succeed a second later.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.CAA import CAA
from dns.rdtypes.ANY.TXT import TXT

from acmeca.domain.addresses import parse_resolver
from acmeca.domain.errors import DNSProblem
from acmeca.validation import hosts
from acmeca.validation.outcome import Transient

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_CNAME_HOPS = 8  # a delegated _acme-challenge is one hop; eight is generous and still bounds loops


def is_reserved(address: IPAddress) -> bool:
    """True for anything that is not a public unicast address (RFC 1918, loopback, link-local, CGNAT...).

    Only consulted when ``denyPrivateAddresses`` is on: this CA is internal, and by default its applicants'
    servers live exactly in those ranges.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_reserved(address.ipv4_mapped)
    return not address.is_global or address.is_multicast


@dataclass(frozen=True)
class Addresses:
    """What an A + AAAA lookup found, IPv6 first because that is the order we connect in."""

    ipv6: tuple[IPAddress, ...]
    ipv4: tuple[IPAddress, ...]

    @property
    def all(self) -> tuple[IPAddress, ...]:
        return self.ipv6 + self.ipv4

    def without_reserved(self) -> Addresses:
        return Addresses(
            ipv6=tuple(a for a in self.ipv6 if not is_reserved(a)),
            ipv4=tuple(a for a in self.ipv4 if not is_reserved(a)),
        )


class Resolver:
    """Looks up A, AAAA, TXT and CAA records for validation, following CNAME chains."""

    def __init__(self, server: str | None = None, *, hosts_file: Path | None = None) -> None:
        """``hosts_file`` answers A/AAAA before DNS; without ``server`` it defaults to /etc/hosts."""
        self.hosts_file = hosts.SYSTEM_HOSTS if server is None and hosts_file is None else hosts_file
        if server is None:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = list(_system_nameservers())
            self.description = "system resolver"
        else:
            address, port = parse_resolver(server)
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [address]
            self._resolver.port = port
            self.description = f"{address}#{port}"
        self._resolver.cache = None

    async def addresses(self, name: str, *, budget: float) -> Addresses:
        """The hosts file's addresses for ``name`` if it has any, else A and AAAA in parallel; either may be
        empty, but not both."""
        if self.hosts_file is not None:
            pinned = await asyncio.to_thread(hosts.lookup, self.hosts_file, name)
            if pinned:
                return Addresses(ipv6=tuple(a for a in pinned if a.version == 6),
                                 ipv4=tuple(a for a in pinned if a.version == 4))
        results = await asyncio.gather(
            self._lookup(name, dns.rdatatype.AAAA, budget),
            self._lookup(name, dns.rdatatype.A, budget),
            return_exceptions=True,
        )
        found: list[tuple[IPAddress, ...]] = []
        errors: list[BaseException] = []
        for result in results:
            if isinstance(result, BaseException):
                errors.append(result)
                found.append(())
            else:
                found.append(tuple(ipaddress.ip_address(r.to_text()) for r in result))
        addresses = Addresses(ipv6=found[0], ipv4=found[1])
        if addresses.all:
            return addresses
        _raise_first(errors)
        raise DNSProblem(f"No valid IP addresses found for {name}")

    async def txt(self, name: str, *, budget: float) -> list[str]:
        """TXT values at ``name``, each RR's strings joined (RFC 7208 §3.3 style)."""
        records = await self._lookup(name, dns.rdatatype.TXT, budget)
        return [b"".join(r.strings).decode("utf-8", "replace") for r in records if isinstance(r, TXT)]

    async def caa(self, name: str, *, budget: float) -> list[CAA]:
        """CAA records at exactly ``name``; a name that does not exist has none (RFC 8659 climbs past it)."""
        records = await self._lookup(name, dns.rdatatype.CAA, budget, missing_ok=True)
        return [r for r in records if isinstance(r, CAA)]

    async def _lookup(
        self, name: str, rdtype: dns.rdatatype.RdataType, budget: float, *, missing_ok: bool = False
    ) -> list[dns.rdata.Rdata]:
        """Resolve ``name``/``rdtype``; an empty list means the name exists without such records.

        A recursive resolver hands back the whole CNAME chain; an authoritative-only server may stop at the
        first CNAME. Both work: when the answer ends in a CNAME without data we ask again for its target.
        """
        qname = dns.name.from_text(name)
        for _ in range(MAX_CNAME_HOPS + 1):
            try:
                answer = await self._query(qname, rdtype, budget)
            except _NoSuchName as missing:
                if missing_ok:
                    return []
                raise DNSProblem(missing.detail) from None
            if answer.rrset is not None:
                return list(answer.rrset)
            if answer.canonical_name == qname:
                return []
            qname = answer.canonical_name
        raise DNSProblem(f"too many CNAME hops resolving {rdtype.name} for {name}")

    async def _query(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, budget: float) -> dns.resolver.Answer:
        what = f"{dns.rdatatype.to_text(rdtype)} for {qname.to_text(omit_final_dot=True)}"
        try:
            return await self._resolver.resolve(
                qname, rdtype, raise_on_no_answer=False, lifetime=max(budget, 0.05), search=False
            )
        except dns.resolver.NXDOMAIN:
            raise _NoSuchName(f"NXDOMAIN looking up {what}") from None
        except dns.resolver.NoNameservers:
            raise Transient(DNSProblem(f"SERVFAIL looking up {what} (via {self.description})")) from None
        except dns.exception.Timeout:
            raise Transient(DNSProblem(f"DNS query timed out looking up {what}")) from None
        except dns.exception.DNSException as exc:
            raise DNSProblem(f"DNS problem looking up {what}: {exc}") from None


@functools.lru_cache(maxsize=1)
def _system_nameservers() -> tuple[str, ...]:
    """resolv.conf's nameservers, read once per process: a file read per validation would block the loop."""
    return tuple(str(n) for n in dns.resolver.Resolver(configure=True).nameservers)


class _NoSuchName(Exception):
    """NXDOMAIN, before the caller decides whether it is an error (A/TXT) or simply "no records" (CAA)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _raise_first(errors: Sequence[BaseException]) -> None:
    """Re-raise the most useful lookup error: a transient one wins, so the dispatcher retries."""
    for error in errors:
        if isinstance(error, Transient):
            raise error
    for error in errors:
        raise error
