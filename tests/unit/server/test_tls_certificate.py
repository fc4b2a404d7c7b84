"""The CA's own TLS certificate goes through the engine and is renewed at two thirds of its life."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from acmeca.config import load_config
from acmeca.domain.clock import FrozenClock
from acmeca.server.graph import GraphOptions, service_graph
from tests.support.inprocess import PASSWORD, write_ca

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_issued_through_engine_and_renewed_on_schedule(tmp_path: Path) -> None:
    db = {"type": "sqlite", "dataSource": str(tmp_path / "db.sqlite")}
    ca = write_ca(tmp_path / "ca", db, now=NOW, dnsNames=["ca.test", "10.1.2.3"])
    clock = FrozenClock(NOW)
    options = GraphOptions(clock=clock, background=False, cpu_workers=1)
    async with service_graph(load_config(ca.config_path), PASSWORD, options=options) as graph:
        tls = graph.tls
        assert tls is not None
        first = tls.current
        assert first is not None, "the composition root issues the TLS certificate before the first request"
        leaf = x509.load_der_x509_certificate(first.der)
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["ca.test"]
        assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
        assert (await graph.engine.certificate(first.serial)).requester.id == "tls"
        assert first.not_after == NOW + timedelta(hours=24)
        lifetime = first.not_after - first.not_before
        assert tls.next_renewal_delay() == first.not_before + lifetime * 2 / 3 - NOW
        clock.advance(timedelta(hours=20))
        assert tls.next_renewal_delay() == timedelta(0)
        renewal = asyncio.create_task(tls.renew_forever())
        for _ in range(100):
            await asyncio.sleep(0.02)
            if tls.current is not None and tls.current.serial != first.serial:
                break
        renewal.cancel()
        assert tls.current is not None
        assert tls.current.serial != first.serial
