"""The engine's three policy levels over the real policies table (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from acmeca.config import ConfigError, NameLists, PolicyConfig
from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import Forbidden, RejectedIdentifier
from acmeca.domain.identifiers import dns, ip
from acmeca.domain.management import PolicyScope, StoredPolicy
from acmeca.domain.records import ProvisionerRef, Requester
from acmeca.domain.status import ProvisionerType, RequesterKind
from acmeca.engine.name_policy import StoredNamePolicy, authority_policy
from acmeca.engine.requests import IssuanceRequest
from acmeca.policy import X509Policy
from acmeca.store import policies
from acmeca.store.database import Database

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEY = ec.generate_private_key(ec.SECP256R1()).public_key()
PROVISIONER = ProvisionerRef(id="prov-1", name="acme", type=ProvisionerType.ACME)


def request(*names: str, eab: str | None = None, cn: str | None = None) -> IssuanceRequest:
    return IssuanceRequest(
        public_key=KEY, common_name=cn, identifiers=tuple(dns(n) for n in names),
        requester=Requester(RequesterKind.PROVISIONER, "t"), provisioner=PROVISIONER, acme_eab_key_id=eab,
    )


def allow_dns(*rules: str) -> dict[str, Any]:
    return {"x509": {"allow": {"dns": list(rules)}}}


async def store(db: Database, scope: PolicyScope, scope_id: str, document: dict[str, Any]) -> None:
    async with db.write() as tx:
        await policies.create(tx, StoredPolicy(scope, scope_id, document, NOW))


CORP = X509Policy.from_document(allow_dns("*.corp.test"))


async def test_config_authority_policy_applies(database: Database) -> None:
    policy = StoredNamePolicy(database, FrozenClock(NOW), config_policy=CORP)
    await policy.check(request("a.corp.test"))
    with pytest.raises(Forbidden, match=r'dns name "a\.other\.test" not allowed'):
        await policy.check(request("a.other.test"))


async def test_stored_authority_policy_replaces_config_one(database: Database) -> None:
    await store(database, PolicyScope.AUTHORITY, "", allow_dns("*.db.test"))
    policy = StoredNamePolicy(database, FrozenClock(NOW), config_policy=CORP)
    await policy.check(request("a.db.test"))
    with pytest.raises(Forbidden):
        await policy.check(request("a.corp.test"))


async def test_every_level_must_pass(database: Database) -> None:
    await store(database, PolicyScope.AUTHORITY, "", allow_dns("*.corp.test"))
    await store(database, PolicyScope.PROVISIONER, "prov-1", {"x509": {"deny": {"dns": ["secret.corp.test"]}}})
    await store(database, PolicyScope.EAB_KEY, "key-1", allow_dns("team.corp.test"))
    policy = StoredNamePolicy(database, FrozenClock(NOW))
    await policy.check(request("x.corp.test"))
    with pytest.raises(Forbidden):
        await policy.check(request("secret.corp.test"))  # provisioner level
    await policy.check(request("team.corp.test", eab="key-1"))
    with pytest.raises(Forbidden):
        await policy.check(request("other.corp.test", eab="key-1"))  # EAB level applies to that key only
    await policy.check(request("other.corp.test", eab="key-2"))


async def test_changes_are_seen_after_the_refresh_interval(database: Database) -> None:
    clock = FrozenClock(NOW)
    policy = StoredNamePolicy(database, clock, refresh_interval=timedelta(seconds=2))
    await policy.check(request("anything.test"))
    await store(database, PolicyScope.AUTHORITY, "", allow_dns("only.test"))
    await policy.check(request("anything.test"))  # cached
    clock.advance(timedelta(seconds=3))
    with pytest.raises(Forbidden):
        await policy.check(request("anything.test"))


async def test_new_order_check_raises_rejected_identifier_with_subproblems(database: Database) -> None:
    document = {"x509": {"allow": {"dns": ["*.corp.test"], "ips": ["10.0.0.0/8"]}}}
    await store(database, PolicyScope.AUTHORITY, "", document)
    policy = StoredNamePolicy(database, FrozenClock(NOW))
    await policy.check_identifiers([dns("a.corp.test"), ip("10.1.1.1")], provisioner_id="p", eab_key_id=None)
    with pytest.raises(RejectedIdentifier) as caught:
        await policy.check_identifiers(
            [dns("a.evil.test"), ip("192.168.0.1"), dns("b.corp.test")], provisioner_id="p", eab_key_id=None
        )
    assert [s.identifier.value for s in caught.value.subproblems if s.identifier] == ["a.evil.test", "192.168.0.1"]


def test_invalid_config_policy_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^authority\.policy: "):
        authority_policy(PolicyConfig(allow=NameLists(dns=("*.*.bad.test",))))
