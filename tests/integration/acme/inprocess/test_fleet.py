"""Fleet features through the whole ACME edge: profiles, ARI (renewalInfo, replaces, early renewal), rate
limits (with a frozen clock: hit, then recovered by moving time) and when CAA is consulted.

Runs on SQLite and PostgreSQL (the ``database`` fixture).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from acmeca.acme.service.renewal_info import encode_cert_id
from acmeca.acme.service.renewals import RenewalService
from acmeca.domain.acme import AccountRecord
from acmeca.domain.errors import CAAProblem, Malformed
from acmeca.domain.identifiers import Identifier
from acmeca.domain.records import CertificateRecord
from acmeca.store.schema import acme_orders, certificates
from tests.integration.acme.inprocess.fleet_env import FleetEnv, fleet_environment
from tests.support.acme_client import AcmeClient, make_csr


@pytest.fixture
async def fleet_env(ca_db: dict[str, Any], tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[FleetEnv]:
    async for env in fleet_environment(ca_db, tmp_path, aiohttp_server):
        yield env


async def _issue(
    env: FleetEnv, client: AcmeClient, names: list[str], **fields: Any
) -> tuple[dict[str, Any], x509.Certificate]:
    order = await env.ready_order(client, names, **fields)
    assert order["status"] == "ready", order
    finalized = await client.finalize(order, make_csr(names)[0])
    assert finalized.status == 200, finalized.body
    body = finalized.json()
    pem = (await client.get(body["certificate"])).body
    return body, x509.load_pem_x509_certificates(pem)[0]


def _cert_id(env: FleetEnv, leaf: x509.Certificate) -> str:
    return encode_cert_id(bytes.fromhex(env.issuer_ski), leaf.serial_number)


async def _renewal_info(env: FleetEnv, client: AcmeClient, cert_id: str) -> Any:
    base = (await client.directory())["renewalInfo"]
    return await client.raw("GET", f"{base}/{cert_id}")


async def test_directory_offers_profiles_and_renewal_info(fleet_env: FleetEnv) -> None:
    directory = await fleet_env.client("fleet").directory()
    assert directory["renewalInfo"] == f"{fleet_env.base}/acme/fleet/renewal-info"
    assert directory["meta"]["profiles"] == {
        "default": "The provisioner's default certificate", "shortlived": "Six hours, server auth only, no CN",
    }
    assert list((await fleet_env.client("other").directory())["meta"]["profiles"]) == ["default"]


async def test_shortlived_profile_shapes_the_certificate(fleet_env: FleetEnv) -> None:
    client = await fleet_env.registered_in("fleet")
    body, leaf = await _issue(fleet_env, client, ["short.test"], profile="shortlived")
    assert body["profile"] == "shortlived"
    assert leaf.not_valid_after_utc - fleet_env.clock.now() == timedelta(hours=6)
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME) == []
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    _, default_leaf = await _issue(fleet_env, client, ["long.test"])
    assert default_leaf.not_valid_after_utc - fleet_env.clock.now() == timedelta(hours=24)
    assert default_leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "long.test"


async def test_unknown_profile_is_invalid_profile(fleet_env: FleetEnv) -> None:
    client = await fleet_env.registered_in("other")
    for bad in ("shortlived", 7, ""):
        reply = await client.new_order([{"type": "dns", "value": "x.test"}], profile=bad)
        assert (reply.status, reply.problem_type) == (400, "invalidProfile"), reply.body
    default = await client.new_order([{"type": "dns", "value": "x.test"}], profile="default")
    assert default.status == 201
    assert default.json()["profile"] == "default"


async def test_renewal_info_window_and_errors(fleet_env: FleetEnv) -> None:
    client = await fleet_env.registered_in("fleet")
    _, leaf = await _issue(fleet_env, client, ["ari.test"])
    reply = await _renewal_info(fleet_env, client, _cert_id(fleet_env, leaf))
    assert reply.status == 200, reply.body
    assert reply.headers["Retry-After"] == "3600"
    window = reply.json()["suggestedWindow"]
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    start = leaf.not_valid_before_utc + lifetime / 2
    assert window["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    padded = _cert_id(fleet_env, leaf) + "="
    assert (await _renewal_info(fleet_env, client, padded)).status == 400
    unknown_serial = encode_cert_id(bytes.fromhex(fleet_env.issuer_ski), 12345)
    assert (await _renewal_info(fleet_env, client, unknown_serial)).status == 404
    foreign_aki = encode_cert_id(b"\x01" * 20, leaf.serial_number)
    assert (await _renewal_info(fleet_env, client, foreign_aki)).status == 404
    other = fleet_env.client("other")  # another directory does not answer for this provisioner's certificates
    assert (await _renewal_info(fleet_env, other, _cert_id(fleet_env, leaf))).status == 404


async def test_early_renewal_and_revocation_move_the_window_to_now(fleet_env: FleetEnv) -> None:
    client = await fleet_env.registered_in("fleet")
    _, early = await _issue(fleet_env, client, ["early.test"])
    _, untouched = await _issue(fleet_env, client, ["calm.test"])
    service = RenewalService(fleet_env.database, fleet_env.clock, fleet_env.engine)
    assert await service.suggest_early(serials=[hex(early.serial_number)]) == [str(early.serial_number)]
    with pytest.raises(Malformed, match="is not a decimal or 0x-prefixed"):
        await service.suggest_early(serials=["twelve"])
    now = fleet_env.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    moved = (await _renewal_info(fleet_env, client, _cert_id(fleet_env, early))).json()["suggestedWindow"]
    assert moved["end"] == now
    assert moved["start"] < now
    calm = (await _renewal_info(fleet_env, client, _cert_id(fleet_env, untouched))).json()["suggestedWindow"]
    assert calm["start"] > now
    assert (await client.revoke(untouched.public_bytes(Encoding.DER))).status == 200
    revoked = (await _renewal_info(fleet_env, client, _cert_id(fleet_env, untouched))).json()["suggestedWindow"]
    assert revoked["end"] == now
    assert len(await service.suggest_early(issuer_ski=fleet_env.issuer_ski)) == 1  # the revoked one is left out


async def test_replaces_marks_the_old_certificate_and_refuses_a_second_use(fleet_env: FleetEnv) -> None:
    client = await fleet_env.registered_in("fleet")
    _, old = await _issue(fleet_env, client, ["renew.test", "www.renew.test"])
    cert_id = _cert_id(fleet_env, old)
    body, _new = await _issue(fleet_env, client, ["renew.test"], replaces=cert_id)
    assert body["replaces"] == cert_id
    async with fleet_env.database.read() as tx:
        replaced_by = await tx.scalar(
            sa.select(certificates.c.replaced_by_order).where(certificates.c.serial == str(old.serial_number))
        )
    assert replaced_by is not None
    again = await client.new_order([{"type": "dns", "value": "renew.test"}], replaces=cert_id)
    assert (again.status, again.problem_type) == (409, "alreadyReplaced")


async def test_racing_renewals_of_one_certificate_give_one_order_and_one_already_replaced(
    fleet_env: FleetEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D7: two newOrders naming the same ``replaces`` both pass the service's check (held at a barrier until both
    have, as two PostgreSQL replicas can); the database lets only one order in and the other gets 409."""
    client = await fleet_env.registered_in("fleet")
    _, old = await _issue(fleet_env, client, ["race.test"])
    cert_id = _cert_id(fleet_env, old)

    both_checked = asyncio.Barrier(2)
    check = RenewalService.check_replaces

    async def check_then_wait(
        self: RenewalService, account: AccountRecord, identifiers: Sequence[Identifier], replaces: object
    ) -> CertificateRecord | None:
        record = await check(self, account, identifiers, replaces)
        await asyncio.wait_for(both_checked.wait(), 10)
        return record

    monkeypatch.setattr(RenewalService, "check_replaces", check_then_wait)
    replies = await asyncio.gather(*(
        client.new_order([{"type": "dns", "value": "race.test"}], replaces=cert_id) for _ in range(2)
    ))
    monkeypatch.undo()

    assert sorted(reply.status for reply in replies) == [201, 409], [r.body for r in replies]
    winner = next(reply for reply in replies if reply.status == 201)
    loser = next(reply for reply in replies if reply.status == 409)
    assert loser.problem_type == "alreadyReplaced"
    async with fleet_env.database.read() as tx:
        live = await tx.scalars(sa.select(acme_orders.c.id).where(acme_orders.c.replaces == cert_id))
    assert len(live) == 1  # the loser left nothing behind, its new authorizations included

    order = winner.json()
    assert (order["replaces"], order["status"]) == (cert_id, "ready")  # race.test's authorization is reused
    finalized = await client.finalize(order, make_csr(["race.test"])[0])
    assert finalized.status == 200, finalized.body
    async with fleet_env.database.read() as tx:
        replaced_by = await tx.scalars(
            sa.select(certificates.c.replaced_by_order).where(certificates.c.serial == str(old.serial_number))
        )
    assert replaced_by == [live[0]]
    again = await client.new_order([{"type": "dns", "value": "race.test"}], replaces=cert_id)
    assert (again.status, again.problem_type) == (409, "alreadyReplaced")


async def test_replaces_is_checked(fleet_env: FleetEnv) -> None:
    owner = await fleet_env.registered_in("fleet")
    _, old = await _issue(fleet_env, owner, ["mine.test"])
    cert_id = _cert_id(fleet_env, old)
    pending = await owner.new_order([{"type": "dns", "value": "mine.test"}], replaces=cert_id)
    assert pending.status == 201  # a live order already replaces it: a second one is refused
    twice = await owner.new_order([{"type": "dns", "value": "mine.test"}], replaces=cert_id)
    assert twice.status == 409
    stranger = await fleet_env.registered_in("fleet")
    theft = await stranger.new_order([{"type": "dns", "value": "mine.test"}], replaces=cert_id)
    assert (theft.status, theft.problem_type) == (403, "unauthorized")
    _, other = await _issue(fleet_env, owner, ["other.test"])
    unrelated = await owner.new_order([{"type": "dns", "value": "z.test"}], replaces=_cert_id(fleet_env, other))
    assert (unrelated.status, unrelated.problem_type) == (400, "malformed")
    for bad in ("not-a-cert-id", cert_id + "==", 42):
        reply = await owner.new_order([{"type": "dns", "value": "mine.test"}], replaces=bad)
        assert (reply.status, reply.problem_type) == (400, "malformed"), bad


async def test_new_orders_per_account_is_hit_and_recovers(fleet_env: FleetEnv) -> None:
    client = await fleet_env.registered_in("fleet")
    _, leaf = await _issue(fleet_env, client, ["one.test"])  # order 1 of 2
    assert (await client.new_order([{"type": "dns", "value": "two.test"}])).status == 201
    limited = await client.new_order([{"type": "dns", "value": "three.test"}])
    assert (limited.status, limited.problem_type) == (429, "rateLimited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 1800
    assert "Replay-Nonce" in limited.headers
    renewal = await client.new_order([{"type": "dns", "value": "one.test"}], replaces=_cert_id(fleet_env, leaf))
    assert renewal.status == 201, renewal.body  # an ARI renewal is exempt
    fleet_env.clock.advance(timedelta(minutes=30))  # one token refills every 30 minutes
    assert (await client.new_order([{"type": "dns", "value": "three.test"}])).status == 201
    assert (await client.new_order([{"type": "dns", "value": "four.test"}])).status == 429


async def test_new_accounts_per_ip_is_hit_and_recovers(fleet_env: FleetEnv) -> None:
    for _ in range(3):
        await fleet_env.registered_in("fleet")
    refused = await fleet_env.client("fleet").register()
    assert (refused.status, refused.problem_type) == (429, "rateLimited")
    existing = await fleet_env.registered_in("other")  # other provisioners have no limit
    assert existing.kid
    fleet_env.clock.advance(timedelta(minutes=20))
    assert (await fleet_env.client("fleet").register()).status == 201


async def test_failed_validations_per_identifier_is_hit_and_recovers(fleet_env: FleetEnv) -> None:
    client = await fleet_env.registered_in("fleet")
    fleet_env.validation.failures["flaky.test"] = CAAProblem("nope")
    failed = await fleet_env.ready_order(client, ["flaky.test"])
    assert failed["status"] == "invalid"
    limited = await client.new_order([{"type": "dns", "value": "flaky.test"}])
    assert (limited.status, limited.problem_type) == (429, "rateLimited")
    assert (await client.new_order([{"type": "dns", "value": "fine.test"}])).status == 201  # per identifier
    del fleet_env.validation.failures["flaky.test"]
    fleet_env.clock.advance(timedelta(hours=1))
    assert (await fleet_env.ready_order(client, ["flaky.test"]))["status"] == "ready"


async def test_caa_is_asked_at_validation_with_account_and_method(fleet_env: FleetEnv) -> None:
    client = await fleet_env.registered_in("caa")
    fleet_env.caa.refusals["denied.test"] = "CAA record for denied.test forbids ca.test"
    ok = await fleet_env.ready_order(client, ["allowed.test"])
    assert ok["status"] == "ready"
    assert fleet_env.caa.calls[-1][1] == client.kid
    assert fleet_env.caa.calls[-1][2] is not None
    denied = await fleet_env.ready_order(client, ["denied.test"])
    assert denied["status"] == "invalid"
    authz = (await client.get(denied["authorizations"][0])).json()
    assert authz["challenges"][0]["error"]["type"] == "urn:ietf:params:acme:error:caa"
    assert "forbids ca.test" in authz["challenges"][0]["error"]["detail"]
    no_caa = await fleet_env.registered_in("other")  # no caaIdentities: CAA is never asked
    before = len(fleet_env.caa.calls)
    await fleet_env.ready_order(no_caa, ["denied.test"])
    assert len(fleet_env.caa.calls) == before


async def test_caa_is_rechecked_at_finalize_when_the_authz_is_old(fleet_env: FleetEnv) -> None:
    client = await fleet_env.registered_in("caa")
    fresh = await fleet_env.ready_order(client, ["recheck.test"])
    fleet_env.caa.refusals["recheck.test"] = "CAA changed: ca.test is no longer allowed"
    fleet_env.clock.advance(timedelta(hours=6))  # still within caaRecheckAfter: the first check stands
    assert (await client.finalize(fresh, make_csr(["recheck.test"])[0])).status == 200
    old = await fleet_env.ready_order(client, ["recheck.test"])  # reuses the authz validated 6h ago
    fleet_env.clock.advance(timedelta(hours=2))
    before = await fleet_env.certificate_count()
    refused = await client.finalize(old, make_csr(["recheck.test"])[0])
    assert (refused.status, refused.problem_type) == (403, "caa"), refused.body
    assert refused.json()["subproblems"][0]["identifier"] == {"type": "dns", "value": "recheck.test"}
    assert await fleet_env.certificate_count() == before
    assert (await client.get(old["url"])).json()["status"] == "ready"  # nothing changed
