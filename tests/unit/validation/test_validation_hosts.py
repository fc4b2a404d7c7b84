"""Without ``validation.resolver``, names pinned in the hosts file are validated at those addresses (as step-ca's
Go resolver does), still subject to ``denyPrivateAddresses``. A temporary hosts file stands in for /etc/hosts."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from acmeca.cli.devdns.server import DNSServer
from acmeca.domain.errors import DNSProblem
from acmeca.validation.hosts import SYSTEM_HOSTS, parse_hosts
from acmeca.validation.resolver import Resolver
from acmeca.validation.targets import resolve_target

HOSTS = """\
# comment line
127.0.0.1   localhost
9.9.9.9     App.Demo.test   alias.demo.test.   # trailing comment
::1         localhost ip6-localhost
2606:4700::1111 app.demo.test
not-an-address  broken.demo.test
10.0.0.5
"""


@pytest.fixture
def hosts_file(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_text(HOSTS)
    return path


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_parse_hosts() -> None:
    assert parse_hosts(HOSTS) == {
        "localhost": [ip("127.0.0.1"), ip("::1")],
        "app.demo.test": [ip("9.9.9.9"), ip("2606:4700::1111")],
        "alias.demo.test": [ip("9.9.9.9")],
        "ip6-localhost": [ip("::1")],
    }


def test_without_a_configured_resolver_the_system_hosts_file_comes_first() -> None:
    assert Resolver().hosts_file == SYSTEM_HOSTS
    assert Resolver("127.0.0.1:53").hosts_file is None


async def test_pinned_names_are_answered_from_the_hosts_file_without_dns(hosts_file: Path) -> None:
    with DNSServer() as dns:  # every name resolves to loopback there: a DNS answer would show
        resolver = Resolver(dns.address, hosts_file=hosts_file)
        found = await resolver.addresses("app.demo.test.", budget=2)
        assert (found.ipv6, found.ipv4) == ((ip("2606:4700::1111"),), (ip("9.9.9.9"),))
        assert (await resolver.addresses("ALIAS.demo.test", budget=2)).all == (ip("9.9.9.9"),)
        assert dns.queries == []
        other = await resolver.addresses("other.demo.test", budget=2)
        assert other.all == (ip("::1"), ip("127.0.0.1"))
        assert ("other.demo.test.", "A") in dns.queries


async def test_an_edit_applies_to_the_next_lookup(hosts_file: Path) -> None:
    resolver = Resolver(hosts_file=hosts_file)
    assert (await resolver.addresses("alias.demo.test", budget=2)).all == (ip("9.9.9.9"),)
    hosts_file.write_text("8.8.8.8 alias.demo.test\n")
    assert (await resolver.addresses("alias.demo.test", budget=2)).all == (ip("8.8.8.8"),)


async def test_deny_private_addresses_applies_to_hosts_file_answers(hosts_file: Path) -> None:
    hosts_file.write_text("127.0.0.1 app.demo.test\n10.0.0.5 app.demo.test\n9.9.9.9 public.demo.test\n")
    resolver = Resolver(hosts_file=hosts_file)
    with pytest.raises(DNSProblem, match=r"reserved addresses refused: 127\.0\.0\.1, 10\.0\.0\.5"):
        await resolve_target(resolver, "app.demo.test", 80, deny_private=True, budget=2)
    allowed = await resolve_target(resolver, "app.demo.test", 80, deny_private=False, budget=2)
    assert allowed.candidates == (ip("127.0.0.1"),)
    public = await resolve_target(resolver, "public.demo.test", 80, deny_private=True, budget=2)
    assert public.candidates == (ip("9.9.9.9"),)
