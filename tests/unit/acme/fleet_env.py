"""An in-process ACME CA with a frozen clock and fleet settings (profiles, ARI, rate limits, CAA).

Like ``acme_env`` (real socket, database, engine, job worker; stub validator), but time only moves when a
test says so, which is how rate limits are hit and recovered without sleeping, and CAA checks are answered
by a stub so the wiring (when CAA is asked, with which account URL and method) can be asserted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from acmeca.acme.service.challenges import ValidationContext
from acmeca.acme.web.app import acme_startup, create_acme_app
from acmeca.acme.web.context import AcmeOptions
from acmeca.config import parse_config
from acmeca.crypto.keys import KeySpec, generate_key
from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import CAAProblem
from acmeca.domain.identifiers import Identifier
from acmeca.domain.status import ChallengeType
from acmeca.edge import keys
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.pki import create_ca_certificates
from acmeca.engine.provisioners import ProvisionerCatalog
from acmeca.engine.trust import SigningAuthority
from acmeca.runtime import Runtime
from acmeca.store import issuers
from acmeca.store.database import Database
from tests.support.acme_client import AccountKey, AcmeClient
from tests.unit.acme.conftest import AcmeEnv, StubValidation, _tls_context, _Verdict

FLEET_PROVISIONERS: list[dict[str, Any]] = [
    {
        "type": "ACME", "name": "fleet",
        "claims": {"minTLSCertDuration": "1h", "maxTLSCertDuration": "48h", "defaultTLSCertDuration": "24h"},
        "profiles": {"shortlived": {"description": "Six hours, server auth only, no CN", "validity": "6h",
                                    "extKeyUsage": ["serverAuth"], "omitCommonName": True}},
        "renewalInfo": {"windowStart": 0.5, "windowEnd": 0.6, "retryAfter": "1h"},
        "rateLimits": {"newOrdersPerAccount": "2/1h", "failedValidationsPerAccountPerIdentifier": "1/1h",
                       "newAccountsPerIP": "3/1h"},
    },
    {"type": "ACME", "name": "caa", "caaIdentities": ["ca.test"], "validation": {"caaRecheckAfter": "7h"}},
    {"type": "ACME", "name": "other"},
]


@dataclass
class StubCAA:
    """CAA verdicts by identifier value (default: allowed); records (identifier, account URI, method)."""

    refusals: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str | None, ChallengeType | None]] = field(default_factory=list)

    async def __call__(
        self, identifier: Identifier, *, caa_identities: Sequence[str], account_uri: str | None,
        method: ChallengeType | None, settings: Any,
    ) -> _Verdict:
        self.calls.append((identifier.value, account_uri, method))
        reason = self.refusals.get(identifier.value)
        return _Verdict(ok=reason is None, error=CAAProblem(reason) if reason else None)


@dataclass
class FleetEnv(AcmeEnv):
    clock: FrozenClock = field(default_factory=lambda: FrozenClock(datetime.now(UTC)))
    caa: StubCAA = field(default_factory=StubCAA)
    issuer_ski: str = ""

    async def registered_in(self, provisioner: str) -> AcmeClient:
        client = self.client(provisioner, AccountKey.generate())
        reply = await client.register()
        assert reply.status == 201, reply.body
        return client


def _settings(top: dict[str, Any], override: dict[str, Any]) -> Any:
    from acmeca.validation.settings import ValidationSettings

    return ValidationSettings.from_config(top, override)


async def fleet_environment(database: Database, tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[FleetEnv]:
    """The body of a ``fleet_env`` fixture; test modules wrap it so that no fixture is imported by name."""
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    root_key, intermediate_key = generate_key(KeySpec()), generate_key(KeySpec())
    pki = create_ca_certificates("Fleet", root_key, intermediate_key, now=clock.now() - timedelta(days=1))
    runtime = Runtime(cpu_workers=2)
    engine = IssuingEngine(
        authority=SigningAuthority(pki.intermediate, intermediate_key, (pki.intermediate,)),
        db=database, clock=clock, runtime=runtime, backdate=timedelta(minutes=1),
    )
    async with database.write() as tx:
        await issuers.ensure(
            tx, ski=engine.authority.ski, subject="CN=Fleet",
            der=pki.intermediate.public_bytes(serialization.Encoding.DER), is_root=False, not_before=clock.now(),
            not_after=clock.now() + timedelta(days=3650), at=clock.now(),
        )
    document = {"root": "root.crt", "crt": "int.crt", "key": "int.key", "address": ":443",
                "authority": {"provisioners": FLEET_PROVISIONERS}}
    stub, caa = StubValidation(), StubCAA()
    context = ValidationContext(validate=stub.validate, settings_for=_settings, top_level={}, check_caa=caa)
    app = web.Application()
    app[keys.CONFIG] = parse_config(document, path=tmp_path / "ca.json")
    app[keys.CLOCK] = clock
    app[keys.DATABASE] = database
    app[keys.RUNTIME] = runtime
    app[keys.ENGINE] = engine
    app[keys.CATALOG] = ProvisionerCatalog(FLEET_PROVISIONERS, None, clock)
    acme_app = create_acme_app(AcmeOptions(validation=context, poll_interval=0.05))
    app.add_subapp("/acme/", acme_app)
    app.on_startup.append(acme_startup(acme_app))
    server = await aiohttp_server(app, ssl=_tls_context(tmp_path))
    async with aiohttp.ClientSession(headers={"User-Agent": "acmeca-tests"}) as session:
        yield FleetEnv(
            base=f"https://127.0.0.1:{server.port}", session=session, database=database, validation=stub,
            engine=engine, root_pem=pki.root.public_bytes(serialization.Encoding.PEM), clock=clock, caa=caa,
            issuer_ski=engine.authority.ski,
        )
    await server.close()
    await runtime.close()
