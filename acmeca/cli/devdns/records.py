"""The zone data behind ``acmeca dev dns``: records added and removed at run time, failures, recursive-style answers.

Kept apart from the sockets (``server.py``) so the answering rules can be read on their own: CNAME chains
are followed and returned whole (as a recursive resolver would) unless ``follow_cnames`` is off; names under
the configured zones exist and get the default A/AAAA; a ``*.`` owner answers for every name below it that
has no records of its own (RFC 4592, simplified: the nearest wildcard wins); NXDOMAIN and SERVFAIL can be
forced per name, for ever or for a number of queries (the tests' failure cases).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

DEFAULT_TTL = 0  # validators must never see stale data, and neither should a caching client
MAX_CHAIN = 10


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text.strip().lower().rstrip(".") + ".") if text.strip(".") else dns.name.root


class RecordStore:
    """The zone data, guarded by one lock: callers mutate it from their thread while the servers read it."""

    def __init__(self, zones: Iterable[str], default_ipv4: str | None, default_ipv6: str | None) -> None:
        self._lock = threading.Lock()
        self.follow_cnames = True
        self.zones = tuple(_name(z) for z in zones)
        self.default_ipv4 = default_ipv4
        self.default_ipv6 = default_ipv6
        self._records: dict[tuple[dns.name.Name, int], list[str]] = {}
        self._failures: dict[dns.name.Name, int] = {}
        self._failures_left: dict[dns.name.Name, int] = {}
        self.queries: list[tuple[str, str]] = []

    def add(self, host: str, rdtype: str, value: str) -> None:
        key = (_name(host), dns.rdatatype.from_text(rdtype.upper()))
        dns.rdata.from_text(dns.rdataclass.IN, key[1], value)  # refuse garbage at once, not at query time
        with self._lock:
            values = self._records.setdefault(key, [])
            if value not in values:
                values.append(value)

    def remove(self, host: str, rdtype: str, value: str | None = None) -> None:
        key = (_name(host), dns.rdatatype.from_text(rdtype.upper()))
        with self._lock:
            values = self._records.get(key, [])
            remaining = [] if value is None else [v for v in values if v != value]
            if remaining:
                self._records[key] = remaining
            else:
                self._records.pop(key, None)

    def set_failure(self, host: str, rcode: int | None, times: int | None = None) -> None:
        """Answer ``rcode`` for ``host`` (``times`` queries only, if given); None clears it."""
        with self._lock:
            self._failures_left.pop(_name(host), None)
            if rcode is None:
                self._failures.pop(_name(host), None)
                return
            self._failures[_name(host)] = rcode
            if times is not None:
                self._failures_left[_name(host)] = times

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._failures.clear()
            self._failures_left.clear()
            self.queries.clear()

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        """Build the full response to ``query``, following CNAMEs like a recursive resolver."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA | dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        with self._lock:
            self.queries.append((question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
            rcode, answer = self._resolve(question.name, question.rdtype)
            response.set_rcode(rcode)
            response.answer.extend(answer)
            if not any(rrset.rdtype == question.rdtype for rrset in answer) and rcode != dns.rcode.SERVFAIL:
                soa = self._soa_for(question.name)
                if soa is not None:
                    response.authority.append(soa)
        return response

    def _resolve(self, qname: dns.name.Name, rdtype: int) -> tuple[dns.rcode.Rcode, list[dns.rrset.RRset]]:
        answer: list[dns.rrset.RRset] = []
        name = qname
        for _ in range(MAX_CHAIN):
            if name in self._failures:
                return self._fail(name), answer
            found = self._rrset(name, rdtype)
            if found is not None:
                return dns.rcode.NOERROR, [*answer, found]
            cname = self._rrset(name, dns.rdatatype.CNAME) if rdtype != dns.rdatatype.CNAME else None
            if cname is None:
                exists = self._exists(name)
                return (dns.rcode.NOERROR if exists else dns.rcode.NXDOMAIN), answer
            answer.append(cname)
            if not self.follow_cnames:
                return dns.rcode.NOERROR, answer
            name = cname[0].target
        return dns.rcode.SERVFAIL, answer

    def _fail(self, name: dns.name.Name) -> dns.rcode.Rcode:
        rcode = dns.rcode.Rcode(self._failures[name])
        if name in self._failures_left:
            self._failures_left[name] -= 1
            if self._failures_left[name] <= 0:
                del self._failures_left[name], self._failures[name]
        return rcode

    def _rrset(self, name: dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
        owner = self._owner(name)
        values = self._records.get((owner, rdtype))
        if not values:
            values = self._defaults(owner, rdtype)
        if not values:
            return None
        return dns.rrset.from_text_list(name, DEFAULT_TTL, dns.rdataclass.IN, dns.rdatatype.RdataType(rdtype), values)

    def _defaults(self, name: dns.name.Name, rdtype: int) -> list[str]:
        if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            explicit = (name, dns.rdatatype.A) in self._records or (name, dns.rdatatype.AAAA) in self._records
            if explicit or (name, dns.rdatatype.CNAME) in self._records or not self._in_zones(name):
                return []
            default = self.default_ipv4 if rdtype == dns.rdatatype.A else self.default_ipv6
            return [default] if default else []
        if name in self.zones and rdtype == dns.rdatatype.SOA:
            mname = "ns." + name.to_text() if name != dns.name.root else "ns.invalid."
            return [f"{mname} hostmaster.invalid. 1 3600 600 86400 0"]
        if name in self.zones and rdtype == dns.rdatatype.NS:
            return ["ns." + name.to_text() if name != dns.name.root else "ns.invalid."]
        return []

    def _in_zones(self, name: dns.name.Name) -> bool:
        return any(name.is_subdomain(zone) for zone in self.zones)

    def _owns_records(self, name: dns.name.Name) -> bool:
        return any(key[0] == name for key in self._records)

    def _owner(self, name: dns.name.Name) -> dns.name.Name:
        """Whose records answer for ``name``: its own, else the nearest ``*.`` owner above it, else its own."""
        if self._owns_records(name):
            return name
        parent = name
        while parent != dns.name.root:
            parent = parent.parent()
            wildcard = dns.name.Name((b"*", *parent.labels))
            if self._owns_records(wildcard):
                return wildcard
        return name

    def _exists(self, name: dns.name.Name) -> bool:
        return self._in_zones(name) or self._owns_records(self._owner(name))

    def _soa_for(self, name: dns.name.Name) -> dns.rrset.RRset | None:
        zones = [z for z in self.zones if name.is_subdomain(z)]
        if not zones:
            return None
        zone = max(zones, key=lambda z: len(z.labels))
        return self._rrset(zone, dns.rdatatype.SOA)
