"""Migration 0002 rewrites errors stored under Python class names to their stable kinds, on both backends."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

import acmeca.policy.constraints  # noqa: F401  (registers InvalidPolicy, whose name 0001 could have stored)
from acmeca.acme.service.accounts import summary_from_json
from acmeca.domain import errors as e
from acmeca.domain.errors import error_from_summary
from acmeca.store.database import Database
from acmeca.store.migrate import current_revision, head_revision, upgrade
from acmeca.store.schema import UTCDateTime
from tests.support.databases import migrate_to

MIGRATION = importlib.import_module("acmeca.store.migrations.versions.0002_error_kinds")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CHALLENGE_COUNT = MIGRATION.PAGE + 3  # more rows than one page holds, so the rewrite has to page

# The three tables as revision 0001 made them: only what these rows need, so later migrations cannot break this.
ORDERS = sa.table(
    "acme_orders", *(sa.column(c, sa.String()) for c in ("id", "account_id", "provisioner_id", "status", "profile")),
    sa.column("identifiers", sa.JSON()), sa.column("error", sa.JSON()),
    *(sa.column(c, UTCDateTime()) for c in ("expires_at", "created_at", "updated_at")),
)
AUTHZS = sa.table(
    "acme_authorizations",
    *(sa.column(c, sa.String()) for c in ("id", "account_id", "provisioner_id", "identifier_type",
                                          "identifier_value", "status")),
    sa.column("wildcard", sa.Boolean()), *(sa.column(c, UTCDateTime()) for c in ("expires_at", "created_at")),
)
CHALLENGES = sa.table(
    "acme_challenges", *(sa.column(c, sa.String()) for c in ("id", "authz_id", "type", "token", "status")),
    sa.column("error", sa.JSON()),
)

LEGACY_ORDER_ERROR = {
    "kind": "RejectedIdentifier", "detail": "some names were refused",
    "subproblems": [
        ["ConnectionProblem", "no route", "dns", "a.example"], ["DNSProblem", "SERVFAIL", "dns", "b.example"],
    ],
}
LEGACY_CHALLENGE_ERROR = {"kind": "IncorrectResponse", "detail": "wrong key authorization", "subproblems": []}
GENERIC_ERROR = {"kind": "CAError", "detail": "the certificate could not be issued", "subproblems": []}
UNKNOWN_ERROR = {"kind": "SomeRemovedClass", "detail": "from long ago", "subproblems": []}




async def _insert_legacy_rows(database: Database) -> None:
    order = {"account_id": "acct", "provisioner_id": "prov", "status": "invalid", "profile": "default",
             "identifiers": [{"type": "dns", "value": "a.example"}], "expires_at": NOW, "created_at": NOW,
             "updated_at": NOW}
    async with database.write() as conn:
        await conn.execute(ORDERS.insert(), [
            {**order, "id": "o-legacy", "error": LEGACY_ORDER_ERROR},
            {**order, "id": "o-generic", "error": GENERIC_ERROR},
            {**order, "id": "o-unknown", "error": UNKNOWN_ERROR},
            {**order, "id": "o-none", "error": None},
        ])
        await conn.execute(AUTHZS.insert().values(
            id="z", account_id="acct", provisioner_id="prov", identifier_type="dns", identifier_value="a.example",
            status="invalid", wildcard=False, expires_at=NOW, created_at=NOW,
        ))
        await conn.execute(CHALLENGES.insert(), [
            {"id": f"c{i}", "authz_id": "z", "type": "http-01", "token": f"t{i}", "status": "invalid",
             "error": LEGACY_CHALLENGE_ERROR}
            for i in range(CHALLENGE_COUNT)
        ])


async def _errors(database: Database, table: sa.TableClause) -> dict[str, Any]:
    async with database.read() as conn:
        rows = await conn.all(sa.select(table.c.id, table.c.error))
    return {row.id: row.error for row in rows}


async def test_legacy_class_names_are_rewritten_to_kinds_and_back(empty_database: Database) -> None:
    await migrate_to(empty_database, "0001")
    await _insert_legacy_rows(empty_database)

    assert await upgrade(empty_database) == ("0001", head_revision())

    orders = await _errors(empty_database, ORDERS)
    assert orders["o-legacy"] == {
        "kind": "rejectedIdentifier", "detail": "some names were refused",
        "subproblems": [["connection", "no route", "dns", "a.example"], ["dns", "SERVFAIL", "dns", "b.example"]],
    }
    assert orders["o-generic"]["kind"] == "unclassified"
    assert orders["o-unknown"] == UNKNOWN_ERROR
    assert orders["o-none"] is None
    challenges = await _errors(empty_database, CHALLENGES)
    assert len(challenges) == CHALLENGE_COUNT
    assert {error["kind"] for error in challenges.values()} == {"incorrectResponse"}

    rebuilt = error_from_summary(summary_from_json(orders["o-legacy"]))
    assert type(rebuilt) is e.RejectedIdentifier
    assert [type(s.error) for s in rebuilt.subproblems] == [e.ConnectionProblem, e.DNSProblem]
    assert type(error_from_summary(summary_from_json(orders["o-generic"]))) is e.CAError
    unknown = error_from_summary(summary_from_json(orders["o-unknown"]))
    assert (type(unknown), unknown.detail) == (e.CAError, "from long ago")

    await migrate_to(empty_database, "0001", down=True)
    assert await current_revision(empty_database) == "0001"
    orders = await _errors(empty_database, ORDERS)
    assert (orders["o-legacy"], orders["o-generic"], orders["o-unknown"]) == (
        LEGACY_ORDER_ERROR, GENERIC_ERROR, UNKNOWN_ERROR
    )
    assert all(error == LEGACY_CHALLENGE_ERROR for error in (await _errors(empty_database, CHALLENGES)).values())


def test_the_frozen_mapping_targets_registered_kinds_one_to_one() -> None:
    """0002 keeps its own copy of the mapping; each name must land on a kind that exists, and only one name on
    each kind, or downgrade would not be the inverse of upgrade."""
    mapping = dict(MIGRATION.CLASS_NAME_TO_KIND)
    assert set(mapping.values()) <= set(e.ERROR_KINDS)
    assert len(set(mapping.values())) == len(mapping)
    assert {"CAError", "InvalidPolicy", "NotImplementedYet", "ValidationError"} <= set(mapping)
