"""The resolver against the real test DNS server: lookups, CNAME chains, failures, the reserved filter."""

from __future__ import annotations

import ipaddress

import pytest

from acmeca.cli.devdns.server import DNSServer
from acmeca.domain.addresses import parse_resolver
from acmeca.domain.errors import DNSProblem
from acmeca.validation.outcome import Transient
from acmeca.validation.resolver import Resolver, is_reserved


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8053", ("127.0.0.1", 8053)),
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
        ("[2001:db8::1]", ("2001:db8::1", 53)),
    ],
)
def test_parse_resolver(text: str, expected: tuple[str, int]) -> None:
    assert parse_resolver(text) == expected


@pytest.mark.parametrize("text", ["", "localhost:53", "127.0.0.1:x", "127.0.0.1:70000", "[::1", "[::1]x"])
def test_parse_server_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="resolver"):
        parse_resolver(text)


@pytest.mark.parametrize(
    ("address", "reserved"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("100.64.0.1", True),
        ("169.254.1.1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:10.0.0.1", True),
        ("2001:db8::1", True),
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_reserved_filter(address: str, reserved: bool) -> None:
    assert is_reserved(ipaddress.ip_address(address)) is reserved


async def test_addresses_default_to_loopback_v6_first(dns_server: DNSServer) -> None:
    found = await Resolver(dns_server.address).addresses("www.example.test", budget=2)
    assert [str(a) for a in found.all] == ["::1", "127.0.0.1"]


async def test_explicit_addresses_replace_defaults(dns_server: DNSServer) -> None:
    dns_server.add_a("v4only.test", "127.0.0.2")
    found = await Resolver(dns_server.address).addresses("v4only.test", budget=2)
    assert found.ipv6 == ()
    assert [str(a) for a in found.ipv4] == ["127.0.0.2"]


async def test_nxdomain_is_final(dns_server: DNSServer) -> None:
    dns_server.set_nxdomain("gone.test")
    with pytest.raises(DNSProblem, match="NXDOMAIN"):
        await Resolver(dns_server.address).addresses("gone.test", budget=2)


async def test_servfail_is_transient(dns_server: DNSServer) -> None:
    dns_server.set_servfail("broken.test")
    with pytest.raises(Transient) as caught:
        await Resolver(dns_server.address).txt("broken.test", budget=2)
    assert isinstance(caught.value.error, DNSProblem)
    assert "SERVFAIL" in caught.value.error.detail


async def test_timeout_is_transient(dns_server: DNSServer) -> None:
    # A UDP port with a socket that never answers: the query times out.
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        resolver = Resolver(f"127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(Transient, match="timed out"):
            await resolver.txt("a.test", budget=0.3)


async def test_name_without_records_gives_empty_list(dns_server: DNSServer) -> None:
    assert await Resolver(dns_server.address).txt("_acme-challenge.nothing.test", budget=2) == []


async def test_multi_string_txt_is_joined(dns_server: DNSServer) -> None:
    dns_server.add_txt("t.test", "abc", "def")
    assert await Resolver(dns_server.address).txt("t.test", budget=2) == ["abcdef"]


async def test_cname_chain_from_a_recursive_style_server(dns_server: DNSServer) -> None:
    dns_server.add_cname("_acme-challenge.a.test", "hop.b.test")
    dns_server.add_cname("hop.b.test", "final.c.test")
    dns_server.add_txt("final.c.test", "value")
    assert await Resolver(dns_server.address).txt("_acme-challenge.a.test", budget=2) == ["value"]


async def test_cname_chain_from_an_authoritative_style_server() -> None:
    with DNSServer(follow_cnames=False) as server:
        server.add_cname("_acme-challenge.a.test", "hop.b.test")
        server.add_cname("hop.b.test", "final.c.test")
        server.add_txt("final.c.test", "value")
        assert await Resolver(server.address).txt("_acme-challenge.a.test", budget=2) == ["value"]
        assert ("final.c.test.", "TXT") in server.queries


async def test_cname_loop_is_bounded() -> None:
    with DNSServer(follow_cnames=False) as server:
        server.add_cname("loop1.test", "loop2.test")
        server.add_cname("loop2.test", "loop1.test")
        with pytest.raises(DNSProblem, match="CNAME"):
            await Resolver(server.address).txt("loop1.test", budget=2)


async def test_large_answer_falls_back_to_tcp(dns_server: DNSServer) -> None:
    for i in range(30):
        dns_server.add_txt("big.test", f"{i:02d}" + "x" * 60)
    values = await Resolver(dns_server.address).txt("big.test", budget=2)
    assert len(values) == 30


async def test_caa_records(dns_server: DNSServer) -> None:
    dns_server.add_caa("caa.test", "issue", "acmeca.test")
    records = await Resolver(dns_server.address).caa("caa.test", budget=2)
    assert [(r.flags, r.tag, r.value) for r in records] == [(0, b"issue", b"acmeca.test")]


def test_system_resolver_is_read_once_and_never_cached() -> None:
    # Construction only: no query is sent to the machine's resolver.
    import dns.resolver

    first, second = Resolver(None), Resolver(None)
    expected = [str(n) for n in dns.resolver.Resolver(configure=True).nameservers]
    assert first._resolver.nameservers == expected
    assert second._resolver.nameservers == expected
    assert first._resolver.cache is None
    assert first.description == "system resolver"


def test_configured_resolver_is_used_as_given() -> None:
    resolver = Resolver("[::1]:5353")
    assert resolver._resolver.nameservers == ["::1"]
    assert resolver._resolver.port == 5353
    assert resolver._resolver.cache is None
