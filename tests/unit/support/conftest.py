"""The test DNS server, started fresh for the tests of the server itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dnsserver import DNSTestServer


@pytest.fixture
def dns_server() -> Iterator[DNSTestServer]:
    with DNSTestServer() as server:
        yield server
