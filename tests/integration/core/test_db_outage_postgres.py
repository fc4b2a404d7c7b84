"""Chaos: PostgreSQL stopped under load, then started again, under a running `acmeca serve`.

The server runs on a throwaway cluster of its own (initdb/pg_ctl), so stopping it disturbs no other test.
While the cluster is down every database-backed reply must be 503 with Retry-After (never 500), readiness
must go 503 while liveness stays 200, and the log must carry one line for the outage's start and one for its
end, without a traceback. Once the cluster is back, requests succeed without restarting acmeca, and every
certificate a client received is stored as issued.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from acmeca.config import parse_database
from acmeca.store.database import Database, database_settings
from acmeca.store.migrate import upgrade
from tests.support.acme_client import AcmeClient
from tests.support.ca_server import CAServer, init_ca, run_cli
from tests.support.outage_load import Load, Minter, assert_outage_reply, log_lines
from tests.support.postgres import Cluster, new_cluster

pytestmark = pytest.mark.postgres
OUTAGE_SECONDS = 3.0


@dataclass
class Setup:
    server: CAServer
    cluster: Cluster


async def _migrate(dsn: str) -> None:
    database = Database.connect(database_settings(parse_database({"type": "postgresql", "dataSource": dsn})))
    try:
        await upgrade(database)
    finally:
        await database.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    cluster = new_cluster()
    try:
        asyncio.run(_migrate(cluster.admin_dsn))
        server = init_ca(tmp_path / "ca", {"type": "postgresql", "dataSource": cluster.admin_dsn})
        server.start()
        try:
            yield Setup(server, cluster)
        finally:
            server.stop()
    finally:
        cluster.remove()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


async def test_postgres_stopped_under_load_answers_503_and_recovers_without_restart(
    setup: Setup, session: aiohttp.ClientSession
) -> None:
    server, cluster = setup.server, setup.cluster
    tls = ssl.create_default_context(cafile=str(server.root_path))
    acme = AcmeClient(session, f"{server.url}/acme/acme/directory", ssl_context=tls)
    assert (await acme.register()).status == 201
    load = Load(server, session, tls)
    load.sign_requests(Minter.of(server), workers=2)
    load.acme_orders(acme)
    load.health_probes()
    await load.until(lambda _: len(load.of("sign")) >= 3 and len(load.of("acme")) >= 3, patience=20)

    await asyncio.to_thread(cluster.stop)
    stopped = time.monotonic()
    await asyncio.sleep(OUTAGE_SECONDS)
    cli = await asyncio.to_thread(run_cli, "health", "--ca-url", server.url, "--root", str(server.root_path),
                                  env=server.env, check=False)
    await asyncio.to_thread(cluster.start)
    started = time.monotonic()
    await load.until(
        lambda _: all(any(o.status in (200, 201) for o in load.of(kind, after=started))
                      for kind in ("sign", "acme", "ready")),
        patience=20,
    )
    await load.stop()

    summary = load.summary()
    assert not [o for o in load.outcomes if o.status not in (200, 201, 503)], summary
    for kind in ("sign", "acme"):  # the outage was seen, and answered as one
        during = [o for o in load.of(kind, after=stopped + 0.5, before=started) if o.status != 201]
        assert during, summary
        for outcome in [o for o in load.of(kind) if o.status == 503]:
            assert_outage_reply(outcome)
    first_not_ready = min(o.at for o in load.of("ready") if o.status == 503)
    assert first_not_ready - stopped < 2.5, "readiness noticed the outage late"
    assert all(o.status == 503 for o in load.of("ready", after=stopped + 2.5, before=started))
    assert all(o.status == 200 for o in load.of("live")), "liveness must not depend on the database"

    assert cli.returncode != 0
    assert len(cli.stderr.strip().splitlines()) == 1, cli.stderr
    assert "not ready: the database is unavailable" in cli.stderr

    log = server.log()
    assert len(log_lines(log, "acmeca.store.outages: database unavailable")) == 1, log
    assert len(log_lines(log, "acmeca.store.outages: database available again")) == 1, log
    assert "Traceback" not in log, log

    await _assert_every_received_certificate_is_stored(cluster.admin_dsn, load)


async def _assert_every_received_certificate_is_stored(dsn: str, load: Load) -> None:
    received = {
        str(cert.serial_number): cert.public_bytes(Encoding.DER)
        for cert in (x509.load_pem_x509_certificate(o.body["crt"].encode()) for o in load.of("sign")
                     if o.status == 201)
    }
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT serial, state, der FROM certificates")
    finally:
        await connection.close()
    stored = {row["serial"]: (row["state"], row["der"]) for row in rows}
    for serial, der in received.items():
        assert stored.get(serial) == ("issued", der), serial
    assert not [s for s, (state, der) in stored.items() if state == "issued" and der is None]
