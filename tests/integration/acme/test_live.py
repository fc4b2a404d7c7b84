"""The ACME front end of a real ``acmeca serve`` with real validation (http-01 and dns-01)."""

from __future__ import annotations

import base64
import hashlib

from cryptography import x509

from tests.integration.acme.conftest import LiveAcme
from tests.support.acme_client import AccountKey, AcmeClient, make_csr


async def _validate(live: LiveAcme, client: AcmeClient, authz_url: str, kind: str) -> None:
    authz = (await client.get(authz_url)).json()
    challenge = next(c for c in authz["challenges"] if c["type"] == kind)
    key_authorization = f"{challenge['token']}.{client.key.thumbprint}"
    name = authz["identifier"]["value"]
    if kind == "http-01":
        live.dns.store.add(name, "A", "127.0.0.1")
        live.http01.answers[challenge["token"]] = key_authorization
    else:
        digest = base64.urlsafe_b64encode(hashlib.sha256(key_authorization.encode()).digest()).rstrip(b"=")
        live.dns.store.add(f"_acme-challenge.{name}", "TXT", digest.decode())
    assert (await client.post(challenge["url"], {})).status == 200


async def _obtain(live: LiveAcme, client: AcmeClient, names: list[str], kind: str) -> list[x509.Certificate]:
    reply = await client.new_order([{"type": "dns", "value": n} for n in names])
    assert reply.status == 201, reply.body
    order_url = reply.headers["Location"]
    for authz_url in reply.json()["authorizations"]:
        await _validate(live, client, authz_url, kind)
    order = (await client.poll(order_url, until=("ready", "invalid"))).json()
    assert order["status"] == "ready", order
    finalized = await client.finalize(order, make_csr(names)[0])
    assert finalized.status == 200, finalized.body
    done = (await client.poll(order_url, until=("valid", "invalid"))).json()
    pem = await client.get(done["certificate"])
    return x509.load_pem_x509_certificates(pem.body)


def _assert_chain(live: LiveAcme, chain: list[x509.Certificate], names: set[str]) -> None:
    root = x509.load_pem_x509_certificate(live.server.root_path.read_bytes())
    chain[0].verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(root)
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == names


async def test_http01_and_dns01_wildcard(live_acme: LiveAcme) -> None:
    client = live_acme.client()
    assert (await client.register()).status == 201
    _assert_chain(live_acme, await _obtain(live_acme, client, ["web.test"], "http-01"), {"web.test"})
    wildcard = await _obtain(live_acme, client, ["*.wild.test", "wild.test"], "dns-01")
    _assert_chain(live_acme, wildcard, {"*.wild.test", "wild.test"})


async def test_failed_http01_records_the_error(live_acme: LiveAcme) -> None:
    client = live_acme.client()
    await client.register()
    reply = await client.new_order([{"type": "dns", "value": "nobody.test"}])
    authz_url = reply.json()["authorizations"][0]
    authz = (await client.get(authz_url)).json()
    challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
    live_acme.dns.store.add("nobody.test", "A", "127.0.0.1")  # the responder answers 404 for unknown tokens
    await client.post(challenge["url"], {})
    settled = (await client.poll(authz_url, until=("valid", "invalid"))).json()
    assert settled["status"] == "invalid"
    tried = next(c for c in settled["challenges"] if c["type"] == "http-01")
    assert tried["error"]["type"].startswith("urn:ietf:params:acme:error:")
    order = (await client.get(reply.headers["Location"])).json()
    assert order["status"] == "invalid"


async def test_client_extras_on_the_real_server(live_acme: LiveAcme) -> None:
    """keyChange, orders pagination, authz deactivation, revocation with the certificate key, deactivation."""
    client = live_acme.client()
    await client.register()
    assert (await client.key_change(AccountKey.generate("ed25519"))).status == 200
    for n in range(3):
        await client.new_order([{"type": "dns", "value": f"page{n}.test"}])
    account = (await client.get(client.kid or "")).json()
    orders, pages = await client.all_orders(account["orders"])
    assert (len(orders), pages) == (3, 2)
    first = (await client.get(orders[0])).json()
    deactivated = await client.post(first["authorizations"][0], {"status": "deactivated"})
    assert deactivated.json()["status"] == "deactivated"
    names = ["revoke.test"]
    reply = await client.new_order([{"type": "dns", "value": "revoke.test"}])
    await _validate(live_acme, client, reply.json()["authorizations"][0], "http-01")
    order = (await client.poll(reply.headers["Location"], until=("ready",))).json()
    csr, key = make_csr(names)
    done = (await client.finalize(order, csr)).json()
    leaf = x509.load_pem_x509_certificates((await client.get(done["certificate"])).body)[0]
    from cryptography.hazmat.primitives.serialization import Encoding

    revoked = await live_acme.client().revoke(leaf.public_bytes(Encoding.DER), cert_key=key)
    assert revoked.status == 200, revoked.body
    assert (await client.deactivate()).status == 200
    assert (await client.new_order([{"type": "dns", "value": "late.test"}])).status == 401
