"""Hostile identifiers and CSRs end to end: a zone-id IP order and odd CSR versions never reach storage as 500s."""

from __future__ import annotations

import sqlalchemy as sa
from cryptography import x509

from acmeca.store.schema import acme_authorizations, acme_orders
from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import make_csr
from tests.support.csr_versions import with_version


async def _count(env: AcmeEnv, table: sa.Table) -> int:
    async with env.database.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_new_order_refuses_non_canonical_ip_identifiers_and_stores_nothing(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    for value, problem in [
        ("fe80::1%eth0", "malformed"),
        ("2001:DB8::1", "malformed"),
        ("010.1.1.1", "malformed"),
        ("::ffff:1.2.3.4", "rejectedIdentifier"),
    ]:
        reply = await client.new_order([{"type": "ip", "value": value}])
        assert reply.status == 400, (value, reply.body)
        assert reply.headers["Content-Type"].startswith("application/problem+json")
        assert reply.problem_type == problem, (value, reply.body)
        assert reply.json()["subproblems"][0]["identifier"] == {"type": "ip", "value": value}
        assert "Replay-Nonce" in reply.headers
    assert await _count(acme_env, acme_orders) == 0
    assert await _count(acme_env, acme_authorizations) == 0


async def test_finalize_accepts_a_version_2_csr(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["v2.test"], ["10.9.8.7"])
    normal, key = make_csr(["v2.test"], ["10.9.8.7"])
    finalized = await client.finalize(order, with_version(normal, key, 2))
    assert finalized.status == 200, finalized.body
    body = finalized.json()
    assert body["status"] == "valid"
    leaf = x509.load_pem_x509_certificates((await client.get(body["certificate"])).body)[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["v2.test"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.9.8.7"]
    assert leaf.public_key() == key.public_key()


async def test_finalize_refuses_bad_csrs_as_bad_csr_and_the_order_stays_ready(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["bad.test"])
    normal, key = make_csr(["bad.test"])
    hostile = {
        "version 2, broken signature": with_version(normal, key, 2, break_signature=True),
        "version 0, broken signature": normal[:-1] + bytes([normal[-1] ^ 0x01]),
        "garbage": b"\x30\x03\x02\x01\x02",
        "not DER at all": b"this is not a CSR",
    }
    for name, csr in hostile.items():
        reply = await client.finalize(order, csr)
        assert reply.status == 400, (name, reply.body)
        assert reply.problem_type == "badCSR", (name, reply.body)
    assert (await client.get(order["url"])).json()["status"] == "ready"
    assert await acme_env.certificate_count() == 0
