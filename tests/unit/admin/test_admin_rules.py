"""Admin and policy rules that must hold whatever door they are reached through (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from acmeca.admin.service.auth import AdminIdentity
from acmeca.admin.service.policies import PolicyService, PolicyTarget, authority_target
from acmeca.admin.service.provisioner_admin import validate_document
from acmeca.config import parse_provisioner
from acmeca.domain import errors as e
from acmeca.domain.claims import Claims
from acmeca.domain.clock import FrozenClock
from acmeca.domain.management import AdminRecord, AdminType, PolicyScope
from acmeca.engine.catalog import config_entry
from acmeca.store import admins, policies
from acmeca.store.database import Database

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PROVISIONER = config_entry(
    parse_provisioner({"type": "JWK", "name": "admin", "key": {"kty": "EC"}}, authority_claims=Claims())
)


def admin(admin_id: str, subject: str, kind: AdminType = AdminType.SUPER_ADMIN, provisioner: str = "") -> AdminRecord:
    return AdminRecord(admin_id, subject, provisioner or PROVISIONER.id, kind, NOW)


async def create_admins(database: Database, *records: AdminRecord) -> None:
    async with database.write() as tx:
        for record in records:
            await admins.create(tx, record)


async def test_last_super_admin_cannot_be_removed_or_demoted(database: Database) -> None:
    await create_admins(database, admin("a", "alice"), admin("b", "bob", AdminType.ADMIN))
    with pytest.raises(e.Malformed, match="last super admin"):
        async with database.write() as tx:
            await admins.delete(tx, "a", at=NOW)
    with pytest.raises(e.Malformed, match="last super admin"):
        async with database.write() as tx:
            await admins.update_type(tx, "a", AdminType.ADMIN)
    with pytest.raises(e.Conflict):
        await create_admins(database, admin("c", "alice"))
    async with database.write() as tx:
        await admins.update_type(tx, "b", AdminType.SUPER_ADMIN)
    async with database.write() as tx:
        await admins.delete(tx, "a", at=NOW)
    async with database.read() as tx:
        assert [a.subject for a in await admins.live(tx)] == ["bob"]
        assert await admins.find(tx, ["alice"], PROVISIONER.id) is None


def service(database: Database) -> PolicyService:
    return PolicyService(database, FrozenClock(NOW), ("ca.internal", "10.0.0.1"))


CALLER = AdminIdentity(admin=admin("a", "alice"), subject="alice", provisioner=PROVISIONER)
OK = {"x509": {"allow": {"dns": ["alice", "bob", "ca.internal", "*.corp.test"], "ips": ["10.0.0.0/8"]}}}
AUTHORITY = authority_target()
REFUSED: list[tuple[PolicyTarget, dict[str, Any], str]] = [
    (AUTHORITY, {"x509": {"allow": {"dns": ["bob", "ca.internal"], "ips": ["10.0.0.1"]}}}, r"lock out \[alice\]"),
    (authority_target(), {"x509": {"allow": {"dns": ["alice", "ca.internal"], "ips": ["10.0.0.1"]}}}, r"\[bob\]"),
    (authority_target(), {"x509": {"allow": {"dns": ["alice", "bob"], "ips": ["10.0.0.1"]}}}, "own name 'ca.internal'"),
    (authority_target(), {"x509": {"deny": {"ips": ["10.0.0.0/24"]}}}, "own name '10.0.0.1'"),
    (PolicyTarget(PolicyScope.PROVISIONER, PROVISIONER.id, "provisioner admin", admin_provisioner_id=PROVISIONER.id),
     {"x509": {"deny": {"dns": ["bob"]}}}, r"\[bob\]"),
    (authority_target(), {"x509": {"allow": {"dns": ["*.*.bad"]}}}, "wildcard"),
]


@pytest.mark.parametrize(("target", "document", "message"), REFUSED)
async def test_policies_that_lock_out_admins_or_the_ca_are_refused(
    database: Database, target: PolicyTarget, document: dict[str, Any], message: str
) -> None:
    await create_admins(database, admin("a", "alice"), admin("b", "bob", AdminType.ADMIN))
    with pytest.raises(e.Malformed, match=message):
        await service(database).create(CALLER, target, document)
    async with database.read() as tx:
        assert await policies.load_all(tx) == []  # nothing changed


async def test_policy_lifecycle(database: Database) -> None:
    await create_admins(database, admin("a", "alice"), admin("b", "bob", AdminType.ADMIN))
    policy_service = service(database)
    target = authority_target()
    with pytest.raises(e.NotFound, match="authority policy does not exist"):
        await policy_service.get(target)
    await policy_service.create(CALLER, target, OK)
    with pytest.raises(e.Conflict, match="already has a policy"):
        await policy_service.create(CALLER, target, OK)
    eab = PolicyTarget(PolicyScope.EAB_KEY, "key-1", "ACME EAB key key-1", guards_admins=False)
    await policy_service.create(CALLER, eab, {"x509": {"allow": {"dns": ["only.test"]}}})  # admins are not affected
    await policy_service.delete(CALLER, target)
    with pytest.raises(e.NotFound):
        await policy_service.delete(CALLER, target)


INVALID_PROVISIONERS: list[tuple[dict[str, Any], str]] = [
    ({"type": "ACME", "name": "a", "claims": {"minTLSCertDuration": "48h", "maxTLSCertDuration": "1h"}}, "<="),
    ({"type": "ACME", "name": "a", "claims": {"defaultTLSCertDuration": "100h"}}, "<="),
    ({"type": "ACME", "name": "a", "claims": {"minTLSCertDuration": "-5m"}}, "positive"),
    ({"type": "ACME", "name": "a", "claims": {"maxTLSCertDuration": "soon"}}, "duration"),
    ({"type": "OIDC", "name": "o", "clientID": "c"}, "configurationEndpoint"),
    ({"type": "X5C", "name": "x"}, "roots: is required"),
    ({"type": "X5C", "name": "x", "roots": "bm90IGEgY2VydA=="}, "x"),
    ({"type": "K8sSA", "name": "k", "publicKeys": "bm90IGEga2V5"}, "K8sSA"),
    ({"type": "JWK", "name": "j", "key": {"kty": "EC"}}, "j"),
]


@pytest.mark.parametrize(("document", "message"), INVALID_PROVISIONERS)
def test_provisioners_that_could_not_serve_are_refused(document: dict[str, Any], message: str) -> None:
    with pytest.raises(e.Malformed, match=message):
        validate_document(document, Claims())
