"""Replays, deterministically, a state that test_kill9 reaches when the kill lands late in a finalize.

The process stored the certificate (``issued``) and died before moving the order out of ``processing``; the
finalize job it leased is taken over by another worker once the lease has run out.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from acmeca.store import jobs
from acmeca.store.schema import acme_orders, certificates
from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import make_csr


async def test_a_finalize_killed_after_storing_its_certificate_settles_with_it(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["stored.test"])
    order_id = order["url"].rsplit("/", 1)[-1]
    csr, _ = make_csr(["stored.test"])
    finalized = await client.finalize(order, csr)
    assert finalized.json()["status"] == "valid", finalized.body
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with acme_env.database.write() as tx:  # the order as it was just before the settle was committed
        stored = await tx.scalar(sa.select(acme_orders.c.certificate_serial).where(acme_orders.c.id == order_id))
        await tx.execute(acme_orders.update().where(acme_orders.c.id == order_id)
                         .values(status="processing", certificate_serial=None))
        await jobs.enqueue(tx, kind="finalize", subject_id=order_id, now=past, owner="dead:1",
                           lease_expires_at=past, payload={"csr": base64.urlsafe_b64encode(csr).decode()})
    done = (await client.poll(order["url"], until=("valid", "invalid"))).json()
    async with acme_env.database.read() as tx:
        issued = await tx.scalars(sa.select(certificates.c.serial).where(
            certificates.c.acme_order_id == order_id, certificates.c.state == "issued"))
    assert done["status"] == "valid"
    assert issued == [stored], f"one order, one certificate: the one already stored ({len(issued)} issued)"
    assert done["certificate"].rsplit("/", 1)[-1] == stored

