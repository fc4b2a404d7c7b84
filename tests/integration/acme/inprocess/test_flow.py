"""Happy paths through the whole ACME edge: one real socket, real database, real engine."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from acmeca.store import jobs
from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import make_csr


def _leaf_names(pem: bytes) -> set[str]:
    leaf = x509.load_pem_x509_certificates(pem)[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
        str(v) for v in san.get_values_for_type(x509.IPAddress)
    }


async def test_order_to_certificate_with_dns_and_ip(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["www.test", "api.internal"], ["127.0.0.1"])
    assert order["status"] == "ready"
    csr, _key = make_csr(["www.test", "api.internal"], ["127.0.0.1"])
    finalized = await client.finalize(order, csr)
    assert finalized.status == 200, finalized.body
    assert finalized.headers["Location"] == order["url"]
    body = finalized.json()
    assert body["status"] == "valid"
    cert = await client.get(body["certificate"])
    assert cert.status == 200
    assert cert.headers["Content-Type"] == "application/pem-certificate-chain"
    assert "Replay-Nonce" in cert.headers
    chain = x509.load_pem_x509_certificates(cert.body)
    assert len(chain) == 2  # leaf + intermediate, never the root
    assert _leaf_names(cert.body) == {"www.test", "api.internal", "127.0.0.1"}
    leaf = chain[0]
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value in {"www.test", "api.internal"}
    leaf.verify_directly_issued_by(chain[1])


async def test_ip_only_order_has_no_common_name(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, [], ["10.1.2.3"])
    csr, _ = make_csr([], ["10.1.2.3"])
    body = (await client.finalize(order, csr)).json()
    leaf = x509.load_pem_x509_certificates((await client.get(body["certificate"])).body)[0]
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME) == []


async def test_directory_and_nonce_headers(acme_env: AcmeEnv) -> None:
    client = acme_env.client("tos")
    reply = await client.raw("GET", acme_env.directory_url("tos"))
    assert reply.status == 200
    directory = reply.json()
    assert "newAuthz" not in directory
    assert directory["newAccount"] == f"{acme_env.base}/acme/tos/new-account"
    assert directory["meta"] == {
        "externalAccountRequired": False, "termsOfService": "https://ca.test/tos", "website": "https://ca.test",
        "caaIdentities": ["ca.test"], "profiles": {"default": "The provisioner's default certificate"},
    }
    assert reply.links("index") == []
    head = await client.raw("HEAD", directory["newNonce"])
    get = await client.raw("GET", directory["newNonce"])
    assert (head.status, get.status) == (200, 204)
    for answer in (head, get):
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Replay-Nonce"]
        assert answer.links("index") == [acme_env.directory_url("tos")]


async def test_second_mount_builds_its_own_urls(acme_env: AcmeEnv) -> None:
    reply = await acme_env.client().raw("GET", acme_env.directory_url(prefix="/2.0/acme"))
    assert reply.json()["newOrder"] == f"{acme_env.base}/2.0/acme/acme/new-order"


async def test_alternate_chain_is_linked_and_served(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["alt.test"])
    body = (await client.finalize(order, make_csr(["alt.test"])[0])).json()
    default = await client.get(body["certificate"])
    [alternate_url] = default.links("alternate")
    assert alternate_url == body["certificate"] + "/1"
    alternate = await client.get(alternate_url)
    default_chain = x509.load_pem_x509_certificates(default.body)
    alternate_chain = x509.load_pem_x509_certificates(alternate.body)
    assert alternate_chain[0] == default_chain[0]
    assert alternate_chain[1].public_bytes(Encoding.PEM) == acme_env.alternate_pem
    assert alternate.links("alternate") == [body["certificate"] + "/0"]
    assert (await client.get(body["certificate"] + "/2")).status == 404


async def test_worker_runs_before_any_acme_request(acme_env: AcmeEnv) -> None:
    """Jobs left by a dead replica are resumed at start-up, not only once traffic arrives."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with acme_env.database.write() as tx:
        await jobs.enqueue(tx, kind="finalize", subject_id="gone", payload={}, now=past, owner="dead:1",
                           lease_expires_at=past)
    for _ in range(100):
        async with acme_env.database.read() as tx:
            if await jobs.by_subject(tx, "finalize", "gone") is None:
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the orphaned job was never picked up")


async def test_unknown_path_and_method_are_problem_documents(acme_env: AcmeEnv) -> None:
    client = acme_env.client()
    missing = await client.raw("POST", f"{acme_env.base}/acme/acme/no-such-thing")
    assert (missing.status, missing.problem_type) == (404, "malformed")
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert missing.headers["Replay-Nonce"]
    wrong = await client.raw("PUT", (await client.directory())["newOrder"])
    assert (wrong.status, wrong.problem_type, wrong.headers["Allow"]) == (405, "malformed", "POST")
    assert wrong.headers["Access-Control-Expose-Headers"] == "Link, Replay-Nonce, Location, Retry-After"
