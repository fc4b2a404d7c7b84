"""The issuing engine against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from acmeca.config import load_config
from acmeca.crypto import certs
from acmeca.crypto.certbuild_oids import PROVISIONER_EXTENSION_OID
from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import AlreadyRevoked, BadPublicKey, NotFound
from acmeca.domain.identifiers import dns, ip
from acmeca.domain.records import ProvisionerRef, Requester
from acmeca.domain.status import ProvisionerType, RequesterKind, RevocationReason
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.requests import IssuanceRequest
from acmeca.server.graph import GraphOptions, service_graph
from acmeca.store.database import Database
from acmeca.store.schema import certificates
from tests.support.inprocess import PASSWORD, write_ca
from tests.support.metric_values import sample

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PROVISIONER = ProvisionerRef(id="p-1", name="admin", type=ProvisionerType.JWK, credential_id="kid-1")


@pytest.fixture
async def engine(ca_db: dict[str, object], tmp_path: Path) -> AsyncIterator[IssuingEngine]:
    """The engine as the composition root builds it (on the same database the ``database`` fixture opens)."""
    ca = write_ca(tmp_path / "ca", dict(ca_db), now=NOW, crl={"enabled": True, "idpURL": "https://ca.test/1.0/crl"})
    options = GraphOptions(clock=FrozenClock(NOW), background=False, server_tls=False, cpu_workers=2)
    async with service_graph(load_config(ca.config_path), PASSWORD, options=options) as graph:
        yield graph.engine


def _request(key: object, **changes: object) -> IssuanceRequest:
    fields: dict[str, object] = {
        "public_key": key, "common_name": "svc.test", "identifiers": (dns("svc.test"), ip("192.0.2.7")),
        "requester": Requester(RequesterKind.PROVISIONER, "admin"), "provisioner": PROVISIONER,
    }
    fields.update(changes)
    return IssuanceRequest(**fields)  # type: ignore[arg-type]


async def test_issue_stores_before_returning_with_the_default_leaf_profile(
    engine: IssuingEngine, database: Database
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issued = await engine.issue(_request(key.public_key()))
    record = await engine.certificate(issued.serial)
    assert record.der == issued.der
    assert {i.value for i in record.identifiers} == {"svc.test", "192.0.2.7"}
    assert record.provisioner_id == "p-1"
    certificate = x509.load_der_x509_certificate(issued.der)
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "svc.test"
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_encipherment
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert certs.provisioner_of(certificate) == (1, "admin", "kid-1")
    assert not certificate.extensions.get_extension_for_oid(PROVISIONER_EXTENSION_OID).critical
    crl_dp = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert crl_dp[0].full_name[0].value == "https://ca.test/1.0/crl"  # type: ignore[index]
    assert certificate.not_valid_before_utc == NOW - timedelta(minutes=1)
    assert issued.chain_pem[0] == issued.leaf_pem
    assert len(issued.chain_pem) == 2
    async with database.read() as tx:
        state = await tx.scalar(sa.select(certificates.c.state).where(certificates.c.serial == issued.serial))
    assert state == "issued"


async def test_rsa_leaf_gets_key_encipherment(engine: IssuingEngine) -> None:
    key = rsa.generate_private_key(65537, 2048)
    certificate = x509.load_der_x509_certificate((await engine.issue(_request(key.public_key()))).der)
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment


async def test_weak_key_is_refused_and_nothing_is_stored(engine: IssuingEngine, database: Database) -> None:
    key = rsa.generate_private_key(65537, 1024)
    with pytest.raises(BadPublicKey):
        await engine.issue(_request(key.public_key()))
    async with database.read() as tx:
        assert await tx.scalar(sa.select(sa.func.count()).select_from(certificates)) == 0


async def test_revoke_once_blocks_key_on_compromise(engine: IssuingEngine) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issued = await engine.issue(_request(key.public_key()))
    record = await engine.revoke(issued.serial, reason=RevocationReason.KEY_COMPROMISE, note="leaked",
                                 revoked_by="test")
    assert record.revocation is not None
    assert record.revocation.reason is RevocationReason.KEY_COMPROMISE
    with pytest.raises(AlreadyRevoked):
        await engine.revoke(issued.serial, reason=RevocationReason.UNSPECIFIED, note="", revoked_by="test")
    with pytest.raises(NotFound):
        await engine.revoke("12345", reason=RevocationReason.UNSPECIFIED, note="", revoked_by="test")
    with pytest.raises(BadPublicKey, match="blocked"):
        await engine.issue(_request(key.public_key()))


async def test_crl_counter_advances_by_one_under_concurrency(database: Database) -> None:
    import asyncio

    from acmeca.engine.crl import next_number

    numbers = await asyncio.gather(*(next_number(database, "crl") for _ in range(8)))
    assert sorted(numbers) == list(range(1, 9))


async def test_replicas_migrating_together_do_not_race(ca_db: dict[str, object]) -> None:
    import asyncio

    from acmeca.config import parse_database
    from acmeca.store.database import database_settings
    from acmeca.store.migrate import head_revision, upgrade

    replicas = [Database.connect(database_settings(parse_database(ca_db))) for _ in range(3)]
    try:
        results = await asyncio.gather(*(upgrade(db) for db in replicas))
    finally:
        for db in replicas:
            await db.close()
    assert all(after == head_revision() for _, after in results)


async def test_issue_and_revoke_are_audited_and_counted_by_provisioner(
    engine: IssuingEngine, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    labels = {"provisioner": "admin", "provisioner_type": "JWK"}
    issued_before = sample("acmeca_certificates_issued_total", **labels)
    revoked_before = sample("acmeca_certificates_revoked_total", **labels)
    caplog.set_level(logging.INFO, logger="acmeca.audit")
    issued = await engine.issue(_request(ec.generate_private_key(ec.SECP256R1()).public_key()))
    await engine.revoke(issued.serial, reason=RevocationReason.SUPERSEDED, note="",
                        revoked_by=Requester(RequesterKind.ACME_ACCOUNT, "acct-9"))
    assert sample("acmeca_certificates_issued_total", **labels) == issued_before + 1
    assert sample("acmeca_certificates_revoked_total", **labels) == revoked_before + 1
    fields = ("event", "serial", "identifiers", "requester_kind", "requester_id", "provisioner")
    lines = [(r.getMessage(), *(getattr(r, f) for f in fields)) for r in caplog.records if r.name == "acmeca.audit"]
    names = ["svc.test", "192.0.2.7"]
    assert lines == [
        ("certificate issued", "issue", issued.serial, names, "provisioner", "admin", "admin"),
        ("certificate revoked", "revoke", issued.serial, names, "acme-account", "acct-9", "admin"),
    ]
    assert issued.serial.isdigit()
    issue, revoke = (r for r in caplog.records if r.name == "acmeca.audit")
    assert (issue.profile, issue.not_after, revoke.reason) == (  # type: ignore[attr-defined]
        "default", x509.load_der_x509_certificate(issued.der).not_valid_after_utc.isoformat(), "superseded")
