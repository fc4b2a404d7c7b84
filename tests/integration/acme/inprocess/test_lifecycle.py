"""Account, order, authorization and certificate life cycles beyond the happy path."""

from __future__ import annotations

import asyncio

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from acmeca.domain.errors import IncorrectResponse
from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import AccountKey, AcmeClient, make_csr


async def _issue(env: AcmeEnv, client: AcmeClient, names: list[str]) -> tuple[bytes, object]:
    order = await env.ready_order(client, names)
    csr, key = make_csr(names)
    body = (await client.finalize(order, csr)).json()
    pem = (await client.get(body["certificate"])).body
    return x509.load_pem_x509_certificates(pem)[0].public_bytes(Encoding.DER), key


@pytest.mark.parametrize("kind", ["rsa", "p384", "ed25519"])
async def test_account_key_types(acme_env: AcmeEnv, kind: str) -> None:
    client = await acme_env.registered(kind=kind)
    order = await client.new_order([{"type": "dns", "value": "k.test"}])
    assert order.status == 201


async def test_existing_key_returns_the_account_with_200(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    again = acme_env.client(key=client.key)
    reply = await again.register(contact=["mailto:ignored@x.test"])
    assert reply.status == 200
    assert reply.headers["Location"] == client.kid
    assert reply.json()["contact"] == []
    found = await acme_env.client(key=client.key).register(onlyReturnExisting=True)
    assert (found.status, found.headers["Location"]) == (200, client.kid)


async def test_account_object_update_and_deactivation(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    assert client.kid
    account = await client.get(client.kid)
    assert account.status == 200
    assert account.json()["orders"] == client.kid + "/orders"
    assert "onlyReturnExisting" not in account.json()
    updated = await client.post(client.kid, {"contact": ["mailto:ops@example.test"], "orders": "ignored"})
    assert updated.json()["contact"] == ["mailto:ops@example.test"]
    pending = (await client.new_order([{"type": "dns", "value": "p.test"}])).headers["Location"]
    gone = await client.deactivate()
    assert (gone.status, gone.json()["status"]) == (200, "deactivated")
    after = await client.get(pending)
    assert (after.status, after.problem_type) == (401, "unauthorized")
    other = await acme_env.registered()
    assert (await other.get(client.kid)).status == 404


async def test_key_change_then_old_key_is_unknown(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    old = client.key
    new = AccountKey.generate("ed25519")
    reply = await client.key_change(new)
    assert reply.status == 200, reply.body
    assert (await client.new_order([{"type": "dns", "value": "kc.test"}])).status == 201
    lookup = await acme_env.client(key=old).register(onlyReturnExisting=True)
    assert (lookup.status, lookup.problem_type) == (400, "accountDoesNotExist")
    by_new = await acme_env.client(key=new).register(onlyReturnExisting=True)
    assert by_new.headers["Location"] == client.kid


async def test_key_change_conflict_names_the_holder(acme_env: AcmeEnv) -> None:
    client, other = await acme_env.registered(), await acme_env.registered()
    reply = await client.key_change(other.key)
    assert reply.status == 409
    assert reply.headers["Location"] == other.kid


async def test_orders_list_paginates_and_omits_invalid(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    urls = []
    for n in range(5):
        urls.append((await client.new_order([{"type": "dns", "value": f"o{n}.test"}])).headers["Location"])
    acme_env.validation.failures["bad.test"] = IncorrectResponse("no")
    invalid = await acme_env.ready_order(client, ["bad.test"])
    assert invalid["status"] == "invalid"
    account = (await client.get(client.kid or "")).json()
    listed, pages = await client.all_orders(account["orders"])
    assert listed == urls
    assert pages == 3  # ordersPerPage is 2 for this provisioner


async def test_authz_reuse_and_deactivation(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    first = await acme_env.ready_order(client, ["reuse.test"])
    second = (await client.new_order([{"type": "dns", "value": "reuse.test"}])).json()
    assert second["authorizations"] == first["authorizations"]
    assert second["status"] == "ready"
    authz = first["authorizations"][0]
    reply = await client.post(authz, {"status": "deactivated"})
    assert (reply.status, reply.json()["status"]) == (200, "deactivated")
    assert (await client.get(first["url"])).json()["status"] == "invalid"
    third = (await client.new_order([{"type": "dns", "value": "reuse.test"}])).json()
    assert third["authorizations"] != first["authorizations"]
    assert third["status"] == "pending"


async def test_failed_challenge_invalidates_authz_and_order_with_the_error(acme_env: AcmeEnv) -> None:
    acme_env.validation.failures["fail.test"] = IncorrectResponse("expected abc, got def")
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["fail.test"])
    assert order["status"] == "invalid"
    assert order["error"]["subproblems"][0]["type"] == "urn:ietf:params:acme:error:incorrectResponse"
    assert order["error"]["subproblems"][0]["identifier"] == {"type": "dns", "value": "fail.test"}
    authz = (await client.get(order["authorizations"][0])).json()
    assert authz["status"] == "invalid"
    tried = [c for c in authz["challenges"] if c["status"] == "invalid"]
    assert tried[0]["error"] == {
        "type": "urn:ietf:params:acme:error:incorrectResponse", "detail": "expected abc, got def", "status": 403,
    }
    assert tried[0]["validationRecord"] == [{"hostname": "fail.test"}]


async def test_challenge_reply_links_up_and_uses_the_fixed_key_authorization(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    authz_url = (await client.new_order([{"type": "dns", "value": "up.test"}])).json()["authorizations"][0]
    authz = (await client.get(authz_url)).json()
    assert authz["status"] == "pending"
    assert {c["type"] for c in authz["challenges"]} == {"http-01", "dns-01", "tls-alpn-01"}
    challenge = authz["challenges"][0]
    reply = await client.post(challenge["url"], {"keyAuthorization": "ignored"})
    assert reply.status == 200
    assert reply.links("up") == [authz_url]
    assert reply.headers["Location"] == challenge["url"]
    assert reply.json()["status"] in ("processing", "valid")
    done = await client.poll(authz_url, until=("valid",))
    assert done.json()["status"] == "valid"
    assert acme_env.validation.calls[-1] == (
        challenge["type"], "up.test", f"{challenge['token']}.{client.key.thumbprint}",
    )
    again = await client.post(challenge["url"], {})
    assert (again.status, again.json()["status"]) == (200, "valid")


async def test_wildcard_and_ip_offer_only_fitting_challenges(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = (await client.new_order(
        [{"type": "dns", "value": "*.Wild.test"}, {"type": "ip", "value": "fd00::1"}]
    )).json()
    assert order["identifiers"][0] == {"type": "dns", "value": "*.wild.test"}
    wild = (await client.get(order["authorizations"][0])).json()
    assert wild["identifier"] == {"type": "dns", "value": "wild.test"}
    assert wild["wildcard"] is True
    assert [c["type"] for c in wild["challenges"]] == ["dns-01"]
    ip = (await client.get(order["authorizations"][1])).json()
    assert "wildcard" not in ip
    assert sorted(c["type"] for c in ip["challenges"]) == ["http-01", "tls-alpn-01"]


async def test_concurrent_finalize_issues_once(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["race.test"])
    replies = await asyncio.gather(*(client.finalize(order, make_csr(["race.test"])[0]) for _ in range(4)))
    statuses = sorted(r.status for r in replies)
    assert statuses.count(200) == 1, [r.body for r in replies]
    assert all(r.problem_type == "orderNotReady" for r in replies if r.status != 200)
    assert await acme_env.certificate_count() == 1


async def test_revocation_by_owner_by_authz_holder_and_by_certificate_key(acme_env: AcmeEnv) -> None:
    owner = await acme_env.registered()
    der1, _ = await _issue(acme_env, owner, ["rv1.test"])
    assert (await owner.revoke(der1, reason=4)).status == 200
    der2, key2 = await _issue(acme_env, owner, ["rv2.test"])
    keyholder = acme_env.client()
    reply = await keyholder.revoke(der2, cert_key=key2)
    assert (reply.status, reply.body) == (200, b"")
    blocked = await acme_env.ready_order(owner, ["rv2b.test"])
    reused_key = await owner.finalize(blocked, make_csr(["rv2b.test"], key=key2)[0])
    assert (reused_key.status, reused_key.problem_type) == (400, "badCSR"), "a compromised key is blocked"
    assert (await owner.get(blocked["url"])).json()["status"] == "ready"
    der3, _ = await _issue(acme_env, owner, ["rv3.test"])
    holder = await acme_env.registered()
    await acme_env.ready_order(holder, ["rv3.test"])
    assert (await holder.revoke(der3)).status == 200
    records = [await acme_env.engine.certificate(str(x509.load_der_x509_certificate(d).serial_number))
               for d in (der1, der2, der3)]
    assert [int(r.revocation.reason) for r in records if r.revocation] == [4, 1, 5]


async def test_certificate_is_only_for_its_account(acme_env: AcmeEnv) -> None:
    owner, stranger = await acme_env.registered(), await acme_env.registered()
    order = await acme_env.ready_order(owner, ["mine.test"])
    body = (await owner.finalize(order, make_csr(["mine.test"])[0])).json()
    reply = await stranger.get(body["certificate"])
    assert (reply.status, reply.problem_type) == (404, "malformed")


async def test_requested_validity_is_honoured(acme_env: AcmeEnv) -> None:
    from datetime import UTC, datetime, timedelta

    client = await acme_env.registered()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    end = start + timedelta(hours=6)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    order = await acme_env.ready_order(client, ["when.test"], notBefore=start.strftime(stamp),
                                       notAfter=end.strftime(stamp))
    assert (order["notBefore"], order["notAfter"]) == (start.strftime(stamp), end.strftime(stamp))
    body = (await client.finalize(order, make_csr(["when.test"])[0])).json()
    leaf = x509.load_pem_x509_certificates((await client.get(body["certificate"])).body)[0]
    assert (leaf.not_valid_before_utc, leaf.not_valid_after_utc) == (start, end)
    too_long = await client.new_order([{"type": "dns", "value": "long.test"}],
                                      notAfter=(start + timedelta(days=30)).strftime(stamp))
    assert (too_long.status, too_long.problem_type) == (400, "malformed")
