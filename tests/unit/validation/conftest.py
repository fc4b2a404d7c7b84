"""Fixtures for the validator tests: a real DNS server, and settings pointing the validators at it.

Every test name (``*.test``) resolves to 127.0.0.1 and ::1 through the test DNS server, so validators
connect to servers the tests start on loopback. Timeouts are short so failure paths stay fast.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest

from acmeca.cli.devdns.server import DNSServer
from acmeca.validation.dispatch import ValidationSettings

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEY_AUTHORIZATION = TOKEN + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


@pytest.fixture(scope="session")
def shared_dns_server() -> Iterator[DNSServer]:
    with DNSServer() as server:
        yield server


@pytest.fixture
def dns_server(shared_dns_server: DNSServer) -> DNSServer:
    """The session's DNS server, emptied for this test (records, failures and the query log)."""
    shared_dns_server.reset()
    return shared_dns_server


@pytest.fixture
def settings(dns_server: DNSServer) -> ValidationSettings:
    return ValidationSettings(resolver=dns_server.address, timeout=timedelta(seconds=2))


def with_ports(settings: ValidationSettings, *, http: int | None = None, tls: int | None = None) -> ValidationSettings:
    return dataclasses.replace(
        settings,
        http01_port=http if http is not None else settings.http01_port,
        tls_alpn01_port=tls if tls is not None else settings.tls_alpn01_port,
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (for "connection refused" tests)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback on this machine")
