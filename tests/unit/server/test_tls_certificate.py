"""The CA's own TLS certificate goes through the engine and is renewed at two thirds of its life."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from acmeca.config import parse_config
from acmeca.crypto.keys import KeySpec, generate_key
from acmeca.domain.clock import FrozenClock
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.pki import create_ca_certificates
from acmeca.engine.trust import SigningAuthority, TrustBundle
from acmeca.runtime import Runtime
from acmeca.server.tls_certificate import ServerCertificate
from acmeca.store import certificates
from acmeca.store.database import Database, DatabaseSettings
from acmeca.store.migrate import upgrade

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_issued_through_engine_and_renewed_on_schedule(tmp_path: Path) -> None:
    database = Database.connect(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    await upgrade(database)
    root_key, key = generate_key(KeySpec()), generate_key(KeySpec())
    pki = create_ca_certificates("T", root_key, key, now=NOW - timedelta(days=1))
    clock = FrozenClock(NOW)
    runtime = Runtime(cpu_workers=1)
    engine = IssuingEngine(authority=SigningAuthority(pki.intermediate, key, (pki.intermediate,)),
                           db=database, clock=clock, runtime=runtime, backdate=timedelta(minutes=1))
    config = parse_config({"root": "r", "crt": "c", "key": "k", "address": ":1",
                           "dnsNames": ["ca.test", "10.1.2.3"]}, path=tmp_path / "ca.json")
    tls = ServerCertificate(config, engine, TrustBundle((pki.root,), (), (pki.intermediate,)), clock)
    try:
        assert tls.next_renewal_delay() == timedelta(0)
        first = await tls.issue()
        leaf = x509.load_der_x509_certificate(first.der)
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["ca.test"]
        assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
        async with database.read() as tx:
            assert (await certificates.by_serial(tx, first.serial)).requester.id == "tls"
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
    finally:
        await runtime.close()
        await database.close()
