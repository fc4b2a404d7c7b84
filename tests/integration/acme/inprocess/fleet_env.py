"""An in-process ACME CA with a frozen clock and fleet settings (profiles, ARI, rate limits, CAA).

Like ``acme_env`` (real socket, database, engine, job worker; stub validator), but time only moves when a
test says so, which is how rate limits are hit and recovered without sleeping, and CAA checks are answered
by a stub so the wiring (when CAA is asked, with which account URL and method) can be asserted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from acmeca.acme.service.challenges import ValidationContext
from acmeca.config import ValidationSettings
from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import CAAProblem
from acmeca.domain.identifiers import Identifier
from acmeca.domain.status import ChallengeType
from acmeca.server.graph import GraphOptions
from tests.integration.acme.inprocess.conftest import AcmeEnv, StubValidation, _Verdict
from tests.support.acme_client import AccountKey, AcmeClient
from tests.support.inprocess import serve_in_process, write_ca

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
        method: ChallengeType | None, settings: ValidationSettings,
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


async def fleet_environment(
    ca_db: dict[str, Any], tmp_path: Path, aiohttp_server: Any
) -> AsyncIterator[FleetEnv]:
    """The body of a ``fleet_env`` fixture; test modules wrap it so that no fixture is imported by name."""
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    ca = write_ca(tmp_path / "ca", ca_db, name="Fleet", now=clock.now(),
                  authority={"provisioners": FLEET_PROVISIONERS})
    stub, caa = StubValidation(), StubCAA()
    options = GraphOptions(
        clock=clock, poll_interval=0.05, server_tls=False, cpu_workers=2,
        validation=ValidationContext(validate=stub.validate, top_level=ValidationSettings, check_caa=caa),
    )
    async with serve_in_process(ca, aiohttp_server, options) as served, aiohttp.ClientSession(
        headers={"User-Agent": "acmeca-tests"}
    ) as session:
        engine = served.graph.engine
        yield FleetEnv(
            base=served.base, session=session, database=served.graph.database, validation=stub, engine=engine,
            alternate_pem=b"", clock=clock, caa=caa, issuer_ski=engine.authority.ski,
        )
