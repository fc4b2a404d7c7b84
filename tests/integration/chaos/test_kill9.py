"""``kill -9`` of a real ``acmeca serve`` during a burst of ACME orders and /1.0/sign, then a restart.

Eight concurrent flows run against one server: six take ACME orders through http-01 (a local responder that
holds each fetch 0.3 s) to a downloaded certificate, two sign through /1.0/sign. One ACME flow's fetches are
held longer, until the kill or for at most two seconds, so that a validation is nearly always in flight
whatever the machine's speed. After a seeded number of certificates and a seeded pause, the test SIGKILLs the
server at the first moment its database shows an order (mid-finalize) and a challenge (mid-validation) both
``processing`` (see burst_and_kill). A new process starts on the same database and, once its job worker has
had a moment, the database must show that:

- every certificate a client received (downloaded, shown on a valid order, or signed) is stored as issued;
- no serial is stored twice, no order has two issued certificates, and every valid order points at an issued
  certificate;
- no order, challenge or job is left ``processing``: the caught finalize and validations ended valid;
- the restarted server logged no traceback and no error.

A dead process's job leases run out on their own after a minute; the test expires them in the database
instead (which is all that waiting would do), so the restarted worker takes them over at its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from jwcrypto import jwk, jws

from acmeca.cli.devdns.server import DNSServer
from acmeca.config import parse_database
from acmeca.domain.status import ChallengeStatus, OrderStatus
from acmeca.store import acme_orders, certificates
from acmeca.store.database import Database, database_settings
from acmeca.store.schema import acme_challenges, jobs
from acmeca.store.schema import acme_orders as orders_table
from acmeca.store.schema import certificates as certificates_table
from acmeca.store.transaction import Transaction
from tests.integration.acme.conftest import Http01Responder
from tests.integration.step.test_wire import csr_pem, provisioner_key
from tests.support.acme_client import AccountKey, AcmeClient, Reply, make_csr
from tests.support.ca_server import CAServer, free_port

SEED = 20260612  # with the backend's name: the kill moment; change it to explore other moments
ACME_FLOWS = 6
STEP_FLOWS = 2
CHAOS_SECONDS = 30.0  # the burst never runs longer, kill or not (it usually takes under a second)
HTTP01_DELAY = 0.3  # the responder holds every fetch this long, so validations are in flight at the kill
HOLD_SECONDS = 2.0  # the held flow's fetches wait this long at most: under validation.timeout (3 s)
FLOWS_END_SECONDS = 10.0  # after the kill, how long the flows may take to fail on their own
SLOW_SQLITE_ROWS = 1500  # a cross join of 2.25 million rows: some tens of milliseconds per ACME reservation
SLOW_POSTGRES_SECONDS = 0.05
RESUME_SECONDS = 15.0  # how long the restarted server may take to settle what the dead one left


@dataclass
class SlowResponder(Http01Responder):
    """The http-01 responder of the ACME tests, holding each fetch a moment, and the fetches of ``held`` tokens
    until ``released`` (or HOLD_SECONDS)."""

    held: set[str] = field(default_factory=set)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def _answer(self, request: web.Request) -> web.Response:
        if request.match_info["token"] in self.held:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), HOLD_SECONDS)
        else:
            await asyncio.sleep(HTTP01_DELAY)
        return await super()._answer(request)


@dataclass
class Ledger:
    """The clients' side of the truth: every certificate they were handed."""

    downloaded: dict[str, bytes] = field(default_factory=dict)  # ACME order id -> leaf DER
    shown_valid: set[str] = field(default_factory=set)  # orders a reply showed valid with a certificate URL
    signed: list[bytes] = field(default_factory=list)  # /1.0/sign leaf DERs

    @property
    def received(self) -> int:
        return len(self.downloaded) + len(self.signed)


@dataclass
class Chaos:
    server: CAServer
    responder: SlowResponder
    session: aiohttp.ClientSession
    tls: ssl.SSLContext
    signing_key: jwk.JWK
    kid: str
    ledger: Ledger = field(default_factory=Ledger)

    def acme_client(self) -> AcmeClient:
        url = f"{self.server.url}/acme/acme/directory"
        return AcmeClient(self.session, url, key=AccountKey.generate(), ssl_context=self.tls)

    def token(self, subject: str) -> str:
        """A one-time token for /1.0/sign, signed with the provisioner key decrypted once for the whole test."""
        now = int(time.time())
        claims = {
            "iss": "admin", "aud": f"{self.server.url}/1.0/sign", "sub": subject, "sans": [subject],
            "nbf": now, "iat": now, "exp": now + 300, "jti": os.urandom(16).hex(), "sha": self.server.fingerprint(),
        }
        token = jws.JWS(json.dumps(claims).encode())
        token.add_signature(self.signing_key, alg="ES256",
                            protected=json.dumps({"alg": "ES256", "kid": self.kid, "typ": "JWT"}))
        return str(token.serialize(compact=True))


def _expect(reply: Reply, status: int, what: str) -> Any:
    assert reply.status == status, f"{what}: {reply.status} {reply.body!r}"
    return reply.json()


def _note_valid(ledger: Ledger, order_id: str, order: dict[str, Any]) -> None:
    if order.get("status") == "valid" and order.get("certificate"):
        ledger.shown_valid.add(order_id)


async def acme_flow(chaos: Chaos, flow: int, jitter: random.Random, *, held: bool = False) -> None:
    """Order after order, each through http-01, finalize and download, until the server dies.

    A seeded pause before each order keeps the flows out of step, so that while some wait on http-01 others
    are finalizing; a ``held`` flow's validations wait on the responder (SlowResponder.held).
    """
    client, ledger = chaos.acme_client(), chaos.ledger
    _expect(await client.register(), 201, "newAccount")
    for n in itertools.count():
        await asyncio.sleep(jitter.uniform(0, 0.2))
        name = f"a{flow}-{n}.chaos.test"
        reply = await client.new_order([{"type": "dns", "value": name}])
        order_url = reply.headers.get("Location", "")
        order_id = order_url.rsplit("/", 1)[-1]
        authz = _expect(await client.get(_expect(reply, 201, "newOrder")["authorizations"][0]), 200, "authz")
        challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
        chaos.responder.answers[challenge["token"]] = f"{challenge['token']}.{client.key.thumbprint}"
        if held:
            chaos.responder.held.add(challenge["token"])
        _expect(await client.post(challenge["url"], {}), 200, "challenge")
        ready = (await client.poll(order_url, until=("ready", "invalid"))).json()
        assert ready["status"] == "ready", ready
        finalized = await client.finalize(ready, make_csr([name])[0])
        _note_valid(ledger, order_id, _expect(finalized, 200, "finalize"))
        done = (await client.poll(order_url, until=("valid", "invalid"))).json()
        _note_valid(ledger, order_id, done)
        assert done["status"] == "valid", done
        pem = await client.get(done["certificate"])
        assert pem.status == 200, pem.body
        ledger.downloaded[order_id] = x509.load_pem_x509_certificates(pem.body)[0].public_bytes(Encoding.DER)


async def step_flow(chaos: Chaos, flow: int) -> None:
    """/1.0/sign after /1.0/sign until the server dies."""
    for n in itertools.count():
        name = f"s{flow}-{n}.chaos.test"
        body = {"csr": csr_pem(name, [name]), "ott": chaos.token(name)}
        async with chaos.session.post(f"{chaos.server.url}/1.0/sign", json=body, ssl=chaos.tls) as response:
            text = await response.text()
        assert response.status == 201, f"/1.0/sign: {response.status} {text}"
        crt = x509.load_pem_x509_certificate(json.loads(text)["crt"].encode())
        chaos.ledger.signed.append(crt.public_bytes(Encoding.DER))


async def _tick(flows: list[asyncio.Task[None]], deadline: float, what: str, pause: float) -> None:
    """One step of waiting for the kill moment; a flow that ended before the kill is a failure of its own."""
    for task in flows:
        if task.done():
            task.result()  # raises what ended it
            raise AssertionError("a flow ended before the kill")
    assert asyncio.get_running_loop().time() < deadline, f"the burst never reached {what} in {CHAOS_SECONDS}s"
    await asyncio.sleep(pause)


_PROCESSING_ORDER = sa.select(orders_table.c.id).where(orders_table.c.status == "processing").limit(1)
_PROCESSING_CHALLENGE = sa.select(acme_challenges.c.id).where(acme_challenges.c.status == "processing").limit(1)
_SLOW_SQLITE = (
    "CREATE TABLE chaos_delay (n INTEGER)",
    f"INSERT INTO chaos_delay SELECT value FROM json_each('[{','.join(['0'] * SLOW_SQLITE_ROWS)}]')",
    # Counting a cross join is how a SQLite trigger can take its time (no sleep, no WITH in a trigger).
    "CREATE TRIGGER chaos_slow_reserve BEFORE INSERT ON certificates WHEN NEW.acme_order_id IS NOT NULL "
    "BEGIN SELECT count(*) FROM chaos_delay a, chaos_delay b; END",
)
_SLOW_POSTGRES = (
    "CREATE FUNCTION chaos_slow_reserve() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN PERFORM pg_sleep({SLOW_POSTGRES_SECONDS}); RETURN NEW; END $$",
    "CREATE TRIGGER chaos_slow_reserve BEFORE INSERT ON certificates FOR EACH ROW "
    "WHEN (NEW.acme_order_id IS NOT NULL) EXECUTE FUNCTION chaos_slow_reserve()",
)
_FAST_AGAIN = {
    "sqlite": ("DROP TRIGGER IF EXISTS chaos_slow_reserve", "DROP TABLE IF EXISTS chaos_delay"),
    "postgresql": ("DROP TRIGGER IF EXISTS chaos_slow_reserve ON certificates",
                   "DROP FUNCTION IF EXISTS chaos_slow_reserve()"),
}


@asynccontextmanager
async def slow_acme_reservations(db: Database) -> AsyncIterator[None]:
    """A slow disk for ACME serials only, so that finalizes stay ``processing`` long enough to be caught.

    A trigger delays the engine's serial reservation (its first write after ``ready`` → ``processing``) by
    some tens of milliseconds; /1.0/sign keeps its speed. Dropped again before the restart.
    """
    steps = _SLOW_SQLITE if db.dialect == "sqlite" else _SLOW_POSTGRES
    try:
        async with db.engine.begin() as connection:
            for statement in steps:
                await connection.exec_driver_sql(statement)
        yield
    finally:
        async with db.engine.begin() as connection:
            for statement in _FAST_AGAIN[db.dialect]:
                await connection.exec_driver_sql(statement)


def _frozen(process: subprocess.Popen[str]) -> None:
    """SIGSTOP, then wait until every thread of the process has stopped (delivery is asynchronous)."""
    process.send_signal(signal.SIGSTOP)
    tasks = Path(f"/proc/{process.pid}/task")
    while any(Path(task, "stat").read_text().rpartition(")")[2].split()[0] not in "tT" for task in tasks.iterdir()):
        time.sleep(0.0005)


async def _processing(db: Database, statement: sa.Select[Any]) -> bool:
    async with db.read() as tx:
        return (await tx.scalar(statement)) is not None


async def _killed_mid_work(process: subprocess.Popen[str], db: Database) -> bool:
    """Once an order shows ``processing``, freeze the server and look again: SIGKILL if an order and a
    challenge are both ``processing`` in the frozen state, else let it go on (SIGCONT)."""
    if not await _processing(db, _PROCESSING_ORDER):
        return False
    _frozen(process)
    caught = False
    try:
        caught = await _processing(db, _PROCESSING_ORDER) and await _processing(db, _PROCESSING_CHALLENGE)
    finally:
        process.send_signal(signal.SIGKILL if caught else signal.SIGCONT)
    return caught


async def _kill_mid_work(chaos: Chaos, db: Database, rng: random.Random, flows: list[asyncio.Task[None]]) -> None:
    process = chaos.server.process
    assert process is not None
    deadline = asyncio.get_running_loop().time() + CHAOS_SECONDS
    wanted = rng.randint(3, 8)
    while chaos.ledger.received < wanted:
        await _tick(flows, deadline, f"{wanted} certificates", 0.01)
    await asyncio.sleep(rng.uniform(0, 0.3))
    while not await _killed_mid_work(process, db):
        await _tick(flows, deadline, "an order and a challenge processing together", 0.002)


async def burst_and_kill(chaos: Chaos, db: Database, rng: random.Random) -> None:
    """Run every flow, SIGKILL the server at a seeded moment with work in flight, and stop the flows.

    The moment: a seeded number of certificates handed out and a seeded pause, then the first time the
    database shows an order ``processing`` the test freezes the server (SIGSTOP) and looks again. With an
    order and a challenge both ``processing`` the server gets SIGKILL; otherwise SIGCONT and the watch goes
    on. ACME serial reservations are slowed for the burst (see slow_acme_reservations).
    """
    flows: list[Coroutine[Any, Any, None]] = [
        acme_flow(chaos, n, random.Random(rng.random()), held=n == 0) for n in range(ACME_FLOWS)
    ]
    flows += [step_flow(chaos, n) for n in range(STEP_FLOWS)]
    tasks = [asyncio.create_task(flow) for flow in flows]
    try:
        async with slow_acme_reservations(db):
            await _kill_mid_work(chaos, db, rng, tasks)
        chaos.responder.released.set()  # the restarted server's resumed validations are answered at once
        # With the server dead every request fails at once: the flows end by themselves. Cancelling one in a
        # TLS handshake instead leaves asyncio's socket transport unclosed (a ResourceWarning in a later test).
        await asyncio.wait(tasks, timeout=FLOWS_END_SECONDS)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert chaos.server.stop() == -signal.SIGKILL


@dataclass(frozen=True)
class Leftovers:
    orders: list[str]
    challenges: list[str]
    jobs: list[str]

    def __bool__(self) -> bool:
        return bool(self.orders or self.challenges or self.jobs)


async def leftovers(db: Database) -> Leftovers:
    """What is still ``processing``, and every job row not yet finished."""
    async with db.read() as tx:
        orders = await tx.scalars(sa.select(orders_table.c.id).where(orders_table.c.status == "processing"))
        challenges = await tx.scalars(
            sa.select(acme_challenges.c.id).where(acme_challenges.c.status == "processing")
        )
        rows = await tx.all(sa.select(jobs.c.kind, jobs.c.subject_id))
    return Leftovers(sorted(orders), sorted(challenges), sorted(f"{r.kind}:{r.subject_id}" for r in rows))


async def expire_leases(db: Database) -> None:
    """What a minute of waiting does to the dead process's leases."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with db.write() as tx:
        await tx.execute(jobs.update().where(jobs.c.lease_owner.is_not(None)).values(lease_expires_at=past))


async def settled(db: Database) -> Leftovers:
    """Wait for the restarted server to finish what the dead one left; returns what is still left, if anything."""
    deadline = time.monotonic() + RESUME_SECONDS
    left = await leftovers(db)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        left = await leftovers(db)
    return left


async def _stored_der(tx: Transaction, serial: str | None) -> bytes | None:
    """The DER stored as issued under ``serial``, through the store layer."""
    stored = await certificates.find(tx, serial) if serial else None
    return stored.der if stored else None


async def _order_state(tx: Transaction, order_id: str) -> tuple[OrderStatus | None, str | None]:
    order = await acme_orders.order_by_id(tx, order_id)
    return (order.status, order.certificate_serial) if order else (None, None)


async def assert_ledger_stored(db: Database, ledger: Ledger) -> None:
    """Every certificate a client received is the one stored as issued under its serial."""
    async with db.read() as tx:
        for order_id, der in ledger.downloaded.items():
            serial = str(x509.load_der_x509_certificate(der).serial_number)
            assert await _stored_der(tx, serial) == der, f"order {order_id}: certificate {serial} not stored"
            assert await _order_state(tx, order_id) == (OrderStatus.VALID, serial)
        for order_id in ledger.shown_valid:
            status, serial = await _order_state(tx, order_id)
            assert status is OrderStatus.VALID, order_id
            assert await _stored_der(tx, serial), f"order {order_id}: certificate {serial} not stored"
        for der in ledger.signed:
            serial = str(x509.load_der_x509_certificate(der).serial_number)
            assert await _stored_der(tx, serial) == der, f"/1.0/sign certificate {serial} not stored"


async def assert_consistent(db: Database, at_kill: Leftovers) -> None:
    """No serial twice; valid orders point at issued certificates; what the kill caught was finished."""
    async with db.read() as tx:
        twice = await tx.scalars(
            sa.select(certificates_table.c.serial).group_by(certificates_table.c.serial)
            .having(sa.func.count() > 1)
        )
        assert twice == [], f"serials stored more than once: {twice}"
        doubled = await tx.scalars(
            sa.select(certificates_table.c.acme_order_id)
            .where(certificates_table.c.acme_order_id.is_not(None), certificates_table.c.state == "issued")
            .group_by(certificates_table.c.acme_order_id).having(sa.func.count() > 1)
        )
        assert doubled == [], f"orders with more than one issued certificate: {doubled}"
        valid = await tx.scalars(sa.select(orders_table.c.id).where(orders_table.c.status == "valid"))
        for order_id in valid:
            _status, serial = await _order_state(tx, order_id)
            assert await _stored_der(tx, serial), f"valid order {order_id}: certificate {serial} not stored"
        for challenge_id in at_kill.challenges:  # the responder still answers: resumed means valid
            challenge = await acme_orders.challenge_by_id(tx, challenge_id)
            assert (challenge.status if challenge else None) is ChallengeStatus.VALID, challenge
        for order_id in at_kill.orders:  # the CSR is in the job: resumed means issued
            assert (await _order_state(tx, order_id))[0] is OrderStatus.VALID, order_id


@pytest.fixture
async def chaos(ca_home: CAServer) -> AsyncIterator[Chaos]:
    """A CA with ACME and real http-01 validation (test DNS server, slow local responder), not yet started."""
    responder = SlowResponder(port=free_port())
    await responder.start()
    with DNSServer() as dns:
        ca_home.edit_config(lambda document: document.update(validation={
            "resolver": f"127.0.0.1:{dns.port}", "http01Port": responder.port, "timeout": "3s",
        }))
        signing_key, kid = provisioner_key(ca_home)
        tls = ssl.create_default_context(cafile=str(ca_home.root_path))
        try:
            async with aiohttp.ClientSession(headers={"User-Agent": "acmeca-chaos"}) as session:
                yield Chaos(ca_home, responder, session, tls, signing_key, kid)
        finally:
            ca_home.stop()  # before the responder: a server still validating would race its shutdown
            await responder.stop()


async def test_kill9_during_a_burst_loses_nothing(chaos: Chaos, backend: str) -> None:
    server = chaos.server
    server.start()
    db = Database.connect(database_settings(parse_database(server.db)))
    try:
        await burst_and_kill(chaos, db, random.Random(f"{SEED}-{backend}"))
        at_kill = await leftovers(db)
        assert at_kill.orders, f"the kill caught no finalize: {at_kill}"
        assert at_kill.challenges, f"the kill caught no validation: {at_kill}"
        await expire_leases(db)
        log_before = len(server.log())
        server.start()
        left = await settled(db)
        assert not left, f"left behind {RESUME_SECONDS}s after the restart: {left}"
        restart_log = server.log()[log_before:]
        assert "Traceback" not in restart_log, restart_log
        assert " ERROR " not in restart_log, restart_log
        await assert_ledger_stored(db, chaos.ledger)
        await assert_consistent(db, at_kill)
        print(f"{backend}: {chaos.ledger.received} certificates received before the kill; at the kill "
              f"{len(at_kill.orders)} orders and {len(at_kill.challenges)} challenges were processing")
    finally:
        await db.close()
    assert server.stop() == 0, server.log()
