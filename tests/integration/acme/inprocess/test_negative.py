"""The table-driven negative suite: hostile or malformed requests, each with its exact status and problem type.

Each case prepares what it needs (accounts, ready orders, issued certificates), then sends one bad request.
The test asserts the status, the problem type, a fresh ``Replay-Nonce`` on the error, and that the bad
request issued no certificate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import JOSE, AccountKey, AcmeClient, Reply, b64, jws, make_csr

Attack = Callable[[], Awaitable[Reply]]


@dataclass(frozen=True)
class Case:
    name: str
    prepare: Callable[[AcmeEnv], Awaitable[Attack]]
    status: int
    type: str


CASES: list[Case] = []


def case(name: str, status: int, type_: str) -> Callable[[Callable[[AcmeEnv], Awaitable[Attack]]], None]:
    def register(prepare: Callable[[AcmeEnv], Awaitable[Attack]]) -> None:
        CASES.append(Case(name, prepare, status, type_))

    return register


async def _send(client: AcmeClient, url: str, body: Any, content_type: str = JOSE, **headers: str) -> Reply:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return await client.raw("POST", url, data=data, headers={"Content-Type": content_type, **headers})


async def _signed(client: AcmeClient, url: str, payload: Any, **knobs: Any) -> Reply:
    knobs.setdefault("kid", client.kid)
    body = jws(client.key, payload, url=url, nonce=knobs.pop("nonce", await client.nonce()), **knobs)
    return await _send(client, url, body)


async def _orders_url(client: AcmeClient) -> str:
    return str((await client.directory())["newOrder"])


ONE = [{"type": "dns", "value": "one.test"}]


# -- transport and JWS shape ----------------------------------------------------------------------------------
@case("wrong content type", 415, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url=url, nonce=await c.nonce(), kid=c.kid)
    return lambda: _send(c, url, body, content_type="application/json")


@case("plain GET on an order", 405, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    order = (await c.new_order(ONE)).headers["Location"]
    return lambda: c.raw("GET", order)


@case("plain GET on newAccount", 405, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    url = (await c.directory())["newAccount"]
    return lambda: c.raw("GET", url)


@case("body over 64 KiB", 413, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE, "padding": "x" * 70_000})


@case("body is not JSON", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    url = await _orders_url(c)
    return lambda: _send(c, url, b"{not json")


@case("general JWS serialization", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url=url, nonce=await c.nonce(), kid=c.kid)
    signature = {"protected": body["protected"], "signature": body["signature"]}
    general = {"payload": body["payload"], "signatures": [signature]}
    return lambda: _send(c, url, general)


@case("unprotected header", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url=url, nonce=await c.nonce(), kid=c.kid)
    return lambda: _send(c, url, {**body, "header": {"kid": c.kid}})


@case("compact serialization", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url=url, nonce=await c.nonce(), kid=c.kid)
    return lambda: _send(c, url, json.dumps(".".join([body["protected"], body["payload"], body["signature"]])))


@case("padded base64url signature", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url=url, nonce=await c.nonce(), kid=c.kid)
    return lambda: _send(c, url, {**body, "signature": body["signature"] + "=="})


@case("b64 false header", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    return lambda: _signed(c, c.directory_url.replace("directory", "new-order"), {"identifiers": ONE},
                           header={"b64": False, "crit": ["b64"]})


@case("missing User-Agent", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url=url, nonce=await c.nonce(), kid=c.kid)
    return lambda: _send(c, url, body, **{"User-Agent": ""})


@case("Replay-Nonce request header", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    nonce = await c.nonce()
    body = jws(c.key, {"identifiers": ONE}, url=url, nonce=nonce, kid=c.kid)
    return lambda: _send(c, url, body, **{"Replay-Nonce": nonce})


DEEP = 20_000  # far under the 64 KiB cap, far over Python's recursion limit


@case("body nested deeply", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    url = await _orders_url(c)
    return lambda: _send(c, url, b"[" * 30_000 + b"]" * 30_000)


@case("protected header nested deeply", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    url = await _orders_url(c)
    body = {"protected": b64(b'{"alg":"ES256","x":' + b"[" * DEEP), "payload": "", "signature": b64(b"x" * 64)}
    return lambda: _send(c, url, body)


@case("payload nested deeply", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    protected = b64(json.dumps({"alg": c.key.alg, "url": url, "nonce": await c.nonce(), "kid": c.kid}).encode())
    payload = b64(b'{"identifiers":' + b"[" * DEEP + b"]" * DEEP + b"}")
    signature = b64(c.key.sign(f"{protected}.{payload}".encode()))
    return lambda: _send(c, url, {"protected": protected, "payload": payload, "signature": signature})


# -- nonces ---------------------------------------------------------------------------------------------------
@case("missing nonce", 400, "badNonce")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _send(c, url, jws(c.key, {"identifiers": ONE}, url=url, nonce=None, kid=c.kid))


@case("replayed nonce", 400, "badNonce")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url=url, nonce=await c.nonce(), kid=c.kid)
    assert (await _send(c, url, body)).status == 201
    return lambda: _send(c, url, body)


@case("forged nonce", 400, "badNonce")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE}, nonce=b64(os.urandom(40)))


@case("nonce from another secret", 400, "badNonce")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    real = await c.nonce()
    tampered = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    return lambda: _signed(c, url, {"identifiers": ONE}, nonce=tampered)


# -- header rules ---------------------------------------------------------------------------------------------
@case("url mismatch", 403, "unauthorized")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url=url + "?x=1", nonce=await c.nonce(), kid=c.kid)
    return lambda: _send(c, url, body)


@case("url over another scheme", 403, "unauthorized")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url="http" + url[5:], nonce=await c.nonce(), kid=c.kid)
    return lambda: _send(c, url, body)


@case("url missing", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE}, drop=("url",))


@case("alg none", 400, "badSignatureAlgorithm")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE}, alg="none")


@case("alg HS256", 400, "badSignatureAlgorithm")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE}, alg="HS256")


@case("alg does not match the key", 400, "badSignatureAlgorithm")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE}, alg="RS256")


@case("both jwk and kid", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE}, header={"jwk": c.key.jwk})


@case("kid on newAccount", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = (await c.directory())["newAccount"]
    return lambda: _signed(c, url, {"termsOfServiceAgreed": True})


@case("jwk on newOrder", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE}, kid=None)


@case("unknown kid", 400, "accountDoesNotExist")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE}, kid=c.kid + "x" if c.kid else None)


@case("kid of another provisioner", 400, "accountDoesNotExist")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    other = await env.registered("httponly")
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE}, kid=other.kid)


@case("deactivated account", 401, "unauthorized")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    assert (await c.deactivate()).status == 200
    url = await _orders_url(c)
    return lambda: _signed(c, url, {"identifiers": ONE})


@case("signature does not verify", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = await _orders_url(c)
    body = jws(c.key, {"identifiers": ONE}, url=url, nonce=await c.nonce(), kid=c.kid)
    other = jws(AccountKey.generate(), {"identifiers": ONE}, url=url, nonce="x", kid=c.kid)
    return lambda: _send(c, url, {**body, "signature": other["signature"]})


@case("weak RSA account key", 400, "badPublicKey")
async def _(env: AcmeEnv) -> Attack:
    c = env.client(key=AccountKey(rsa.generate_private_key(65537, 1024)))
    return lambda: c.register()


@case("P-521 account key", 400, "badSignatureAlgorithm")
async def _(env: AcmeEnv) -> Attack:
    c = env.client(key=AccountKey(ec.generate_private_key(ec.SECP521R1())))
    url = (await c.directory())["newAccount"]
    return lambda: _signed(c, url, {"termsOfServiceAgreed": True}, kid=None, alg="ES512")


@case("private key in jwk", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    url = (await c.directory())["newAccount"]
    return lambda: _signed(c, url, {}, kid=None, header={"jwk": {**c.key.jwk, "d": "AAAA"}})


# -- accounts -------------------------------------------------------------------------------------------------
@case("onlyReturnExisting without an account", 400, "accountDoesNotExist")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    return lambda: c.register(onlyReturnExisting=True)


@case("requireEAB refuses open registration", 403, "externalAccountRequired")
async def _(env: AcmeEnv) -> Attack:
    c = env.client("eab")
    return lambda: c.register()


@case("terms of service not agreed", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = env.client("tos")
    url = (await c.directory())["newAccount"]
    return lambda: c.post(url, {"contact": []}, use_jwk=True)


@case("contact with an unsupported scheme", 400, "unsupportedContact")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    return lambda: c.register(contact=["tel:+1555"])


@case("mailto contact with header fields", 400, "invalidContact")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    return lambda: c.register(contact=["mailto:a@example.test?subject=hi"])


@case("unknown provisioner", 404, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    return lambda: c.raw("GET", env.directory_url("nope"))


@case("JWK provisioner is not ACME", 404, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = env.client()
    return lambda: c.raw("GET", env.directory_url("admin"))


# -- orders ---------------------------------------------------------------------------------------------------
@case("unsupported identifier type", 400, "unsupportedIdentifier")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    return lambda: c.new_order([{"type": "email", "value": "a@b.test"}])


@case("IP address sent as a dns identifier", 400, "rejectedIdentifier")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    return lambda: c.new_order([{"type": "dns", "value": "127.0.0.1"}])


@case("forbidden DNS name", 400, "rejectedIdentifier")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    return lambda: c.new_order([{"type": "dns", "value": "bad_name.test"}])


@case("wildcard where only http-01 is offered", 400, "rejectedIdentifier")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered("httponly")
    return lambda: c.new_order([{"type": "dns", "value": "*.wild.test"}])


@case("no identifiers", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    return lambda: c.new_order([])


@case("notAfter before notBefore", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    return lambda: c.new_order(ONE, notBefore="2030-01-02T00:00:00Z", notAfter="2030-01-01T00:00:00Z")


@case("another account's order", 404, "malformed")
async def _(env: AcmeEnv) -> Attack:
    owner, stranger = await env.registered(), await env.registered()
    order = (await owner.new_order(ONE)).headers["Location"]
    return lambda: stranger.get(order)


# -- finalize -------------------------------------------------------------------------------------------------
@case("finalize before ready", 403, "orderNotReady")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    order = (await c.new_order(ONE)).json()
    return lambda: c.finalize(order, make_csr(["one.test"])[0])


@case("CSR with an extra name", 400, "badCSR")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    order = await env.ready_order(c, ["one.test"])
    return lambda: c.finalize(order, make_csr(["one.test", "two.test"])[0])


@case("CSR missing a name", 400, "badCSR")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    order = await env.ready_order(c, ["one.test", "two.test"])
    return lambda: c.finalize(order, make_csr(["one.test"])[0])


@case("CSR common name outside the order", 400, "badCSR")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    order = await env.ready_order(c, ["one.test"])
    return lambda: c.finalize(order, make_csr(["one.test"], cn="other.test")[0])


@case("CSR signed with the account key", 400, "badCSR")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    order = await env.ready_order(c, ["one.test"])
    return lambda: c.finalize(order, make_csr(["one.test"], key=c.key.private)[0])


@case("CSR key is another account's key", 400, "badCSR")
async def _(env: AcmeEnv) -> Attack:
    c, other = await env.registered(), await env.registered()
    order = await env.ready_order(c, ["one.test"])
    return lambda: c.finalize(order, make_csr(["one.test"], key=other.key.private)[0])


@case("CSR with an email address", 400, "badCSR")
async def _(env: AcmeEnv) -> Attack:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    c = await env.registered()
    order = await env.ready_order(c, ["one.test"])
    key = ec.generate_private_key(ec.SECP256R1())
    sans = x509.SubjectAlternativeName([x509.DNSName("one.test"), x509.RFC822Name("a@one.test")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).add_extension(sans, critical=False)
    der = csr.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    return lambda: c.finalize(order, der)


@case("CSR with a weak RSA key", 400, "badCSR")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    order = await env.ready_order(c, ["one.test"])
    return lambda: c.finalize(order, make_csr(["one.test"], key=rsa.generate_private_key(65537, 1024))[0])


@case("CSR is garbage", 400, "badCSR")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    order = await env.ready_order(c, ["one.test"])
    return lambda: c.finalize(order, b"\x30\x03\x02\x01\x00")


@case("double finalize", 403, "orderNotReady")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    order = await env.ready_order(c, ["one.test"])
    assert (await c.finalize(order, make_csr(["one.test"])[0])).status == 200
    return lambda: c.finalize(order, make_csr(["one.test"])[0])


# -- authorizations and challenges ----------------------------------------------------------------------------
@case("authz status other than deactivated", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    authz = (await c.new_order(ONE)).json()["authorizations"][0]
    return lambda: c.post(authz, {"status": "valid"})


@case("another account's challenge", 404, "malformed")
async def _(env: AcmeEnv) -> Attack:
    owner, stranger = await env.registered(), await env.registered()
    authz = (await owner.new_order(ONE)).json()["authorizations"][0]
    challenge = (await owner.get(authz)).json()["challenges"][0]["url"]
    return lambda: stranger.post(challenge, {})


@case("retrying an invalid challenge", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    from acmeca.domain.errors import IncorrectResponse

    env.validation.failures["bad.test"] = IncorrectResponse("wrong key authorization")
    c = await env.registered()
    order = await env.ready_order(c, ["bad.test"])
    assert order["status"] == "invalid"
    authz = (await c.get(order["authorizations"][0])).json()
    return lambda: c.post(authz["challenges"][0]["url"], {})


# -- revocation -----------------------------------------------------------------------------------------------
async def _issued(env: AcmeEnv, c: AcmeClient, name: str = "one.test") -> tuple[bytes, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    order = await env.ready_order(c, [name])
    csr, key = make_csr([name])
    body = (await c.finalize(order, csr)).json()
    pem = (await c.get(body["certificate"])).body
    return x509.load_pem_x509_certificates(pem)[0].public_bytes(Encoding.DER), key


@case("revoke by a stranger", 403, "unauthorized")
async def _(env: AcmeEnv) -> Attack:
    owner, stranger = await env.registered(), await env.registered()
    der, _ = await _issued(env, owner)
    return lambda: stranger.revoke(der)


@case("revoke with a key that is not the certificate's", 403, "unauthorized")
async def _(env: AcmeEnv) -> Attack:
    owner = await env.registered()
    der, _ = await _issued(env, owner)
    return lambda: owner.revoke(der, cert_key=ec.generate_private_key(ec.SECP256R1()))


@case("revoke with an unassigned reason", 400, "badRevocationReason")
async def _(env: AcmeEnv) -> Attack:
    owner = await env.registered()
    der, _ = await _issued(env, owner)
    return lambda: owner.revoke(der, reason=7)


@case("revoke twice", 400, "alreadyRevoked")
async def _(env: AcmeEnv) -> Attack:
    owner = await env.registered()
    der, _ = await _issued(env, owner)
    assert (await owner.revoke(der)).status == 200
    return lambda: owner.revoke(der)


# -- key change -----------------------------------------------------------------------------------------------
@case("keyChange to another account's key", 409, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c, other = await env.registered(), await env.registered()
    return lambda: c.key_change(other.key)


@case("keyChange inner url differs", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = (await c.directory())["keyChange"]
    new = AccountKey.generate()
    inner = jws(new, {"account": c.kid, "oldKey": c.key.jwk}, url=url + "x", nonce=None)
    return lambda: c.post(url, inner)


@case("keyChange with a wrong oldKey", 403, "unauthorized")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = (await c.directory())["keyChange"]
    new = AccountKey.generate()
    inner = jws(new, {"account": c.kid, "oldKey": AccountKey.generate().jwk}, url=url, nonce=None)
    return lambda: c.post(url, inner)


@case("keyChange inner carries a nonce", 400, "malformed")
async def _(env: AcmeEnv) -> Attack:
    c = await env.registered()
    url = (await c.directory())["keyChange"]
    new = AccountKey.generate()
    inner = jws(new, {"account": c.kid, "oldKey": c.key.jwk}, url=url, nonce="abc")
    return lambda: c.post(url, inner)


PLAIN_GETS = {"plain GET on an order", "plain GET on newAccount", "unknown provisioner", "JWK provisioner is not ACME"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile_request_is_refused(acme_env: AcmeEnv, case: Case) -> None:
    attack = await case.prepare(acme_env)
    issued_before = await acme_env.certificate_count()
    reply = await attack()
    assert (reply.status, reply.problem_type) == (case.status, case.type), reply.body
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.json()["status"] == case.status
    if case.name not in PLAIN_GETS:
        assert reply.headers.get("Replay-Nonce"), "every reply to a POST carries a fresh nonce"
    assert await acme_env.certificate_count() == issued_before


def test_the_suite_is_big_enough() -> None:
    assert len(CASES) >= 40
