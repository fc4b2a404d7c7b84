"""An in-process ACME CA on a real TLS socket, on SQLite and PostgreSQL.

The root application carries the AppKeys the server's composition root sets; the ACME sub-application is
mounted at /acme/ and /2.0/acme/ exactly as ``build_app`` does. Only the validator is replaced (by
``StubValidation``: the network checks have their own tests); everything else — database, engine, nonces,
job worker — is the real thing.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acmeca.acme.service.challenges import ValidationContext
from acmeca.acme.web.app import acme_startup, create_acme_app
from acmeca.acme.web.context import AcmeOptions
from acmeca.config import parse_config
from acmeca.crypto.keys import KeySpec, generate_key
from acmeca.domain.clock import SystemClock
from acmeca.domain.errors import CAError
from acmeca.domain.identifiers import Identifier
from acmeca.domain.status import ChallengeType
from acmeca.edge import keys
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.pki import create_ca_certificates
from acmeca.engine.provisioners import ProvisionerCatalog
from acmeca.engine.trust import SigningAuthority
from acmeca.runtime import Runtime
from acmeca.store.database import Database
from acmeca.store.schema import certificates
from tests.support.acme_client import AccountKey, AcmeClient

PROVISIONERS: list[dict[str, Any]] = [
    {"type": "ACME", "name": "acme", "ordersPerPage": 2},
    {"type": "ACME", "name": "eab", "requireEAB": True},
    {"type": "ACME", "name": "httponly", "challenges": ["http-01"]},
    {"type": "ACME", "name": "tos", "termsOfService": "https://ca.test/tos", "website": "https://ca.test",
     "caaIdentities": ["ca.test"]},
    {"type": "JWK", "name": "admin", "key": {"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}},
]


@dataclass(frozen=True)
class _Verdict:
    ok: bool
    error: CAError | None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class StubValidation:
    """Verdicts by identifier value (default: valid); records every call it gets."""

    failures: dict[str, CAError] = field(default_factory=dict)
    calls: list[tuple[ChallengeType, str, str]] = field(default_factory=list)

    async def validate(
        self, kind: ChallengeType, identifier: Identifier, token: str, key_authorization: str, settings: Any
    ) -> _Verdict:
        self.calls.append((kind, identifier.value, key_authorization))
        error = self.failures.get(identifier.value)
        record = {"validationRecord": [{"hostname": identifier.value}]}
        return _Verdict(ok=error is None, error=error, record=record)

    def context(self) -> ValidationContext:
        return ValidationContext(validate=self.validate, settings_for=lambda top, over: (top, over), top_level={})


def _tls_context(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    return context


@dataclass
class AcmeEnv:
    base: str  # https://127.0.0.1:port
    session: aiohttp.ClientSession
    database: Database
    validation: StubValidation
    engine: IssuingEngine
    root_pem: bytes

    def directory_url(self, provisioner: str = "acme", prefix: str = "/acme") -> str:
        return f"{self.base}{prefix}/{provisioner}/directory"

    def client(self, provisioner: str = "acme", key: AccountKey | None = None) -> AcmeClient:
        return AcmeClient(self.session, self.directory_url(provisioner), key=key or AccountKey.generate())

    async def registered(self, provisioner: str = "acme", kind: str = "ec") -> AcmeClient:
        client = self.client(provisioner, AccountKey.generate(kind))
        reply = await client.register()
        assert reply.status == 201, reply.body
        return client

    async def certificate_count(self) -> int:
        async with self.database.read() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(certificates)) or 0)

    async def ready_order(
        self, client: AcmeClient, names: list[str], ips: list[str] = (), **fields: Any  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """newOrder, answer one challenge per authorization, wait for ``ready``; returns the order JSON."""
        identifiers = [{"type": "dns", "value": n} for n in names] + [{"type": "ip", "value": a} for a in ips]
        reply = await client.new_order(identifiers, **fields)
        assert reply.status == 201, reply.body
        order_url = reply.headers["Location"]
        for authz_url in reply.json()["authorizations"]:
            authz = (await client.get(authz_url)).json()
            if authz["status"] == "valid":
                continue
            challenge = authz["challenges"][0]
            answered = await client.post(challenge["url"], {})
            assert answered.status == 200, answered.body
        ready = await client.poll(order_url, until=("ready", "invalid"))
        order = dict(ready.json())
        order["url"] = order_url
        return order


OptionsFactory = Callable[[StubValidation], AcmeOptions]


@pytest.fixture
def acme_options() -> OptionsFactory:
    return lambda stub: AcmeOptions(validation=stub.context(), poll_interval=0.05)


@pytest.fixture
async def acme_env(
    database: Database, tmp_path: Path, aiohttp_server: Any, acme_options: OptionsFactory
) -> AsyncIterator[AcmeEnv]:
    clock = SystemClock()
    root_key, intermediate_key = generate_key(KeySpec()), generate_key(KeySpec())
    pki = create_ca_certificates("Test", root_key, intermediate_key, now=clock.now() - timedelta(days=1))
    runtime = Runtime(cpu_workers=2)
    engine = IssuingEngine(
        # The "alternate chain" is just another certificate: ACME serves what the engine loaded from ca.json.
        authority=SigningAuthority(
            pki.intermediate, intermediate_key, (pki.intermediate,), alternate_chains=((pki.root,),)
        ),
        db=database, clock=clock, runtime=runtime, backdate=timedelta(minutes=1),
    )
    root_pem = pki.root.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "alternate.crt").write_bytes(root_pem)  # an "alternate chain" that is just another cert
    document = {"root": "root.crt", "crt": "int.crt", "key": "int.key", "address": ":443",
                "authority": {"provisioners": PROVISIONERS}, "alternateChains": [["alternate.crt"]]}
    config = parse_config(document, path=tmp_path / "ca.json")
    stub = StubValidation()
    app = web.Application()
    app[keys.CONFIG] = config
    app[keys.CLOCK] = clock
    app[keys.DATABASE] = database
    app[keys.RUNTIME] = runtime
    app[keys.ENGINE] = engine
    app[keys.CATALOG] = ProvisionerCatalog(PROVISIONERS, None, clock)
    for prefix in ("/acme/", "/2.0/acme/"):
        acme_app = create_acme_app(acme_options(stub))
        app.add_subapp(prefix, acme_app)
        app.on_startup.append(acme_startup(acme_app))
    server = await aiohttp_server(app, ssl=_tls_context(tmp_path))
    async with aiohttp.ClientSession(headers={"User-Agent": "acmeca-tests"}) as session:
        yield AcmeEnv(
            base=f"https://127.0.0.1:{server.port}", session=session, database=database, validation=stub,
            engine=engine, root_pem=root_pem,
        )
    await server.close()
    await runtime.close()
