"""stored errors keyed by kind, not class name

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:22:58

Orders and challenges keep their error as JSON: ``{"kind", "detail", "subproblems": [[kind, detail, type,
value], ...]}``. Until now ``kind`` was the Python class name, so renaming a class turned stored errors into
generic ones; from now on it is the stable kind each class declares (see acmeca.domain.errors). This rewrites
the rows written before.

The mapping is a frozen copy, not imported from the domain, so this migration means the same thing whatever
the classes are called later. Names it does not know are left alone (they read back as a generic error
anyway). Only data changes, no DDL, so there is nothing for batch mode to rebuild: plain SELECTs and
UPDATEs by primary key, in pages, run the same on SQLite and PostgreSQL.
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLASS_NAME_TO_KIND: Mapping[str, str] = {
    "CAError": "unclassified",
    "Malformed": "malformed",
    "MethodNotAllowed": "methodNotAllowed",
    "UnsupportedMediaType": "unsupportedMediaType",
    "PayloadTooLarge": "payloadTooLarge",
    "NotFound": "notFound",
    "Unauthorized": "unauthorized",
    "Unauthenticated": "unauthenticated",
    "AccountDeactivated": "accountDeactivated",
    "Forbidden": "forbidden",
    "BadNonce": "badNonce",
    "BadSignatureAlgorithm": "badSignatureAlgorithm",
    "BadPublicKey": "badPublicKey",
    "BadCSR": "badCSR",
    "BadRevocationReason": "badRevocationReason",
    "AlreadyRevoked": "alreadyRevoked",
    "AlreadyReplaced": "alreadyReplaced",
    "AccountDoesNotExist": "accountDoesNotExist",
    "ExternalAccountRequired": "externalAccountRequired",
    "OrderNotReady": "orderNotReady",
    "RejectedIdentifier": "rejectedIdentifier",
    "UnsupportedIdentifier": "unsupportedIdentifier",
    "InvalidContact": "invalidContact",
    "UnsupportedContact": "unsupportedContact",
    "InvalidProfile": "invalidProfile",
    "UserActionRequired": "userActionRequired",
    "Conflict": "conflict",
    "RateLimited": "rateLimited",
    "NotImplementedYet": "notImplemented",
    "ServerInternal": "serverInternal",
    "ServiceUnavailable": "serviceUnavailable",
    "ValidationError": "validationFailed",
    "ConnectionProblem": "connection",
    "DNSProblem": "dns",
    "TLSProblem": "tls",
    "IncorrectResponse": "incorrectResponse",
    "CAAProblem": "caa",
    "InvalidPolicy": "invalidPolicy",
}
TABLES = ("acme_orders", "acme_challenges")  # the only columns that hold stored errors
PAGE = 500


def upgrade() -> None:
    _rewrite_all(CLASS_NAME_TO_KIND)


def downgrade() -> None:
    _rewrite_all({kind: name for name, kind in CLASS_NAME_TO_KIND.items()})


def _rewrite_all(names: Mapping[str, str]) -> None:
    bind = op.get_bind()
    for name in TABLES:
        table = sa.table(name, sa.column("id", sa.String()), sa.column("error", sa.JSON()))
        for row_id, error in _stored_errors(bind, table):
            renamed = _renamed_error(error, names)
            if renamed != error:
                bind.execute(table.update().where(table.c.id == row_id).values(error=renamed))


def _stored_errors(bind: sa.Connection, table: sa.TableClause) -> Iterator[tuple[str, Any]]:
    """Every (id, error) with an error, a page at a time (keyset on the primary key, so updates cannot skip)."""
    last: str | None = None
    while True:
        query = sa.select(table.c.id, table.c.error).where(table.c.error.is_not(None))
        if last is not None:
            query = query.where(table.c.id > last)
        rows = bind.execute(query.order_by(table.c.id).limit(PAGE)).all()
        yield from ((row.id, row.error) for row in rows)
        if len(rows) < PAGE:
            return
        last = rows[-1].id


def _renamed_error(error: Any, names: Mapping[str, str]) -> Any:
    """``error`` with its kind and its subproblems' kinds renamed; anything not shaped like a stored error as is."""
    if not isinstance(error, dict):
        return error
    renamed = dict(error)
    kind = error.get("kind")
    if isinstance(kind, str):
        renamed["kind"] = names.get(kind, kind)
    subproblems = error.get("subproblems")
    if isinstance(subproblems, list):
        renamed["subproblems"] = [_renamed_subproblem(s, names) for s in subproblems]
    return renamed


def _renamed_subproblem(subproblem: Any, names: Mapping[str, str]) -> Any:
    if isinstance(subproblem, list) and subproblem and isinstance(subproblem[0], str):
        return [names.get(subproblem[0], subproblem[0]), *subproblem[1:]]
    return subproblem
