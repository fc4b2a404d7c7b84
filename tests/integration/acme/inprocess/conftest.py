"""An in-process ACME CA on a real TLS socket, on SQLite and PostgreSQL.

The CA is built by the production composition root (``service_graph``) and application (``build_app``).
Only the validator is replaced (by ``StubValidation``: the network checks have their own tests); everything
else — database, engine, nonces, job worker — is the real thing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from acmeca.acme.service.challenges import ValidationContext
from acmeca.config import ValidationSettings
from acmeca.domain.errors import CAError
from acmeca.domain.identifiers import Identifier
from acmeca.domain.status import ChallengeType
from acmeca.engine.issuer import IssuingEngine
from acmeca.server.graph import GraphOptions
from acmeca.store.database import Database
from acmeca.store.schema import certificates
from tests.support.acme_client import AccountKey, AcmeClient
from tests.support.inprocess import PASSWORD, serve_in_process, write_ca
from tests.support.pki import make_cross_signed_chain

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
    """Verdicts by identifier value (default: valid); records every call it gets.

    ``settings`` are the top-level validation settings the CA runs with (tests may replace them). A ``hold``
    event makes the next call wait for it (``held`` is set once that call is waiting); its verdict is read
    from ``failures`` after the wait.
    """

    failures: dict[str, CAError] = field(default_factory=dict)
    calls: list[tuple[ChallengeType, str, str]] = field(default_factory=list)
    settings: ValidationSettings = field(default_factory=ValidationSettings)
    hold: asyncio.Event | None = None
    held: asyncio.Event = field(default_factory=asyncio.Event)

    async def validate(
        self, kind: ChallengeType, identifier: Identifier, token: str, key_authorization: str,
        settings: ValidationSettings,
    ) -> _Verdict:
        self.calls.append((kind, identifier.value, key_authorization))
        hold, self.hold = self.hold, None
        if hold is not None:
            self.held.set()
            await hold.wait()
        error = self.failures.get(identifier.value)
        record = {"validationRecord": [{"hostname": identifier.value}]}
        return _Verdict(ok=error is None, error=error, record=record)

    def context(self) -> ValidationContext:
        return ValidationContext(validate=self.validate, top_level=lambda: self.settings)


@dataclass
class AcmeEnv:
    base: str  # https://127.0.0.1:port
    session: aiohttp.ClientSession
    database: Database
    validation: StubValidation
    engine: IssuingEngine
    alternate_pem: bytes  # the first certificate of the configured alternate chain

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


OptionsFactory = Callable[[StubValidation], GraphOptions]


@pytest.fixture
def acme_options() -> OptionsFactory:
    return lambda stub: GraphOptions(
        validation=stub.context(), poll_interval=0.05, server_tls=False, cpu_workers=2
    )


@pytest.fixture
async def acme_env(
    ca_db: dict[str, Any], tmp_path: Path, aiohttp_server: Any, acme_options: OptionsFactory
) -> AsyncIterator[AcmeEnv]:
    ca = write_ca(tmp_path / "ca", ca_db, authority={"provisioners": PROVISIONERS})
    cross, _other_root = make_cross_signed_chain(ca.home, PASSWORD)
    ca.edit({"alternateChains": [[str(cross)]]})
    stub = StubValidation()
    async with serve_in_process(ca, aiohttp_server, acme_options(stub)) as served, aiohttp.ClientSession(
        headers={"User-Agent": "acmeca-tests"}
    ) as session:
        yield AcmeEnv(
            base=served.base, session=session, database=served.graph.database, validation=stub,
            engine=served.graph.engine, alternate_pem=cross.read_bytes(),
        )
