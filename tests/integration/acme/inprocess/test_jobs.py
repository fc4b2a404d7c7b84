"""Durable jobs: leases, takeover of expired leases, disjoint claims, and resuming half-done work."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from acmeca.domain.status import OrderStatus
from acmeca.store import jobs
from acmeca.store.database import Database
from acmeca.store.schema import acme_challenges, acme_orders
from acmeca.store.schema import jobs as jobs_table
from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import make_csr
from tests.support.metric_values import sample

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def _enqueue(database: Database, count: int) -> None:
    async with database.write() as tx:
        for n in range(count):
            await jobs.enqueue(tx, kind="validate", subject_id=f"c{n}", payload={}, now=NOW)


async def _claim(database: Database, owner: str, at: datetime, limit: int = 10) -> list[jobs.JobRecord]:
    async with database.write() as tx:
        return await jobs.claim(tx, owner=owner, now=at, lease_until=at + LEASE, limit=limit)


async def test_a_leased_job_is_taken_over_only_after_its_lease(database: Database) -> None:
    await _enqueue(database, 1)
    takeovers = sample("acmeca_job_lease_takeovers_total")
    assert [j.attempts for j in await _claim(database, "a", NOW)] == [1]
    assert await _claim(database, "b", NOW + timedelta(seconds=10)) == []
    assert sample("acmeca_job_lease_takeovers_total") == takeovers, "a first claim takes over nothing"
    taken = await _claim(database, "b", NOW + LEASE + timedelta(seconds=1))
    assert [(j.lease_owner, j.attempts) for j in taken] == [("b", 2)]
    assert sample("acmeca_job_lease_takeovers_total") == takeovers + 1
    async with database.write() as tx:
        assert not await jobs.finish(tx, taken[0].id, owner="a"), "the old owner lost the job"
        assert await jobs.finish(tx, taken[0].id, owner="b")


async def test_enqueue_is_idempotent_per_subject(database: Database) -> None:
    await _enqueue(database, 1)
    await _enqueue(database, 1)
    async with database.read() as tx:
        assert await tx.scalar(sa.select(sa.func.count()).select_from(jobs_table)) == 1


async def test_concurrent_claims_are_disjoint(database: Database) -> None:
    await _enqueue(database, 12)
    batches = await asyncio.gather(*(_claim(database, f"w{n}", NOW, limit=5) for n in range(4)))
    ids = [job.id for batch in batches for job in batch]
    assert len(ids) == len(set(ids)) == 12


async def test_released_job_waits_for_its_run_at(database: Database) -> None:
    await _enqueue(database, 1)
    [job] = await _claim(database, "a", NOW)
    async with database.write() as tx:
        await jobs.release(tx, job.id, owner="a", run_at=NOW + timedelta(seconds=5))
    assert await _claim(database, "b", NOW + timedelta(seconds=1)) == []
    assert len(await _claim(database, "b", NOW + timedelta(seconds=6))) == 1


async def test_finalize_left_processing_by_a_dead_replica_is_resumed(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["resume.test"])
    order_id = order["url"].rsplit("/", 1)[-1]
    csr, _ = make_csr(["resume.test"])
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with acme_env.database.write() as tx:  # what a replica that crashed after the CAS leaves behind
        await tx.execute(acme_orders.update().where(acme_orders.c.id == order_id).values(status="processing"))
        await jobs.enqueue(tx, kind="finalize", subject_id=order_id, now=past, owner="dead:1",
                           lease_expires_at=past, payload={"csr": base64.urlsafe_b64encode(csr).decode()})
    processing = await client.get(order["url"])
    assert processing.json()["status"] in ("processing", "valid")
    done = await client.poll(order["url"], until=("valid", "invalid"))
    assert done.json()["status"] == OrderStatus.VALID.value
    assert await acme_env.certificate_count() == 1


async def test_processing_order_carries_retry_after(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["later.test"])
    order_id = order["url"].rsplit("/", 1)[-1]
    async with acme_env.database.write() as tx:  # a live lease: nobody may take it over yet
        await tx.execute(acme_orders.update().where(acme_orders.c.id == order_id).values(status="processing"))
        await jobs.enqueue(tx, kind="finalize", subject_id=order_id, now=datetime.now(UTC), owner="busy:1",
                           lease_expires_at=datetime.now(UTC) + timedelta(minutes=5), payload={})
    reply = await client.get(order["url"])
    assert (reply.json()["status"], reply.headers["Retry-After"]) == ("processing", "1")


async def test_a_validation_that_keeps_crashing_is_recorded_as_failed(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    authz_url = (await client.new_order([{"type": "dns", "value": "crash.test"}])).json()["authorizations"][0]
    challenge = (await client.get(authz_url)).json()["challenges"][0]
    challenge_id = challenge["url"].rsplit("/", 1)[-1]
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with acme_env.database.write() as tx:  # three workers died on it already
        await tx.execute(acme_challenges.update().where(acme_challenges.c.id == challenge_id)
                           .values(status="processing", key_authorization="x.y"))
        await jobs.enqueue(tx, kind="validate", subject_id=challenge_id, now=past, owner="dead:3",
                           lease_expires_at=past, payload={})
        await tx.execute(jobs_table.update().values(attempts=3))
    settled = (await client.poll(authz_url, until=("valid", "invalid"))).json()
    assert settled["status"] == "invalid"
    assert acme_env.validation.calls == [], "the validator is not run a fourth time"
    failed = next(c for c in settled["challenges"] if c["url"] == challenge["url"])
    assert failed["error"]["type"] == "urn:ietf:params:acme:error:serverInternal"
