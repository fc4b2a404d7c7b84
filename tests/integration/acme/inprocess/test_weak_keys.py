"""ACME finalize with a known-weak CSR key: refused by the engine, the order stays ready for another CSR."""

from __future__ import annotations

from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import make_csr
from tests.support.weak_rsa import roca_private_key


async def test_a_roca_key_is_refused_as_bad_csr_and_the_order_can_still_be_finalized(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["weak.test"])
    before = await acme_env.certificate_count()
    refused = await client.finalize(order, make_csr(["weak.test"], key=roca_private_key())[0])
    assert (refused.status, refused.problem_type) == (400, "badCSR"), refused.body
    assert "ROCA" in refused.json()["detail"]
    assert await acme_env.certificate_count() == before
    assert (await client.get(order["url"])).json()["status"] == "ready"
    accepted = await client.finalize(order, make_csr(["weak.test"])[0])
    assert accepted.status == 200, accepted.body
