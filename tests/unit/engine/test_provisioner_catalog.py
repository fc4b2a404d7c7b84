"""The catalog reads stored provisioners through the ca.json parser: a row that no longer parses is skipped."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from acmeca.config import parse_provisioner
from acmeca.domain.claims import Claims
from acmeca.domain.clock import FrozenClock
from acmeca.domain.management import StoredProvisioner
from acmeca.engine.catalog import PerEntry, ProvisionerCatalog
from acmeca.store import provisioners
from acmeca.store.database import Database

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _row(row_id: str, document: dict[str, object]) -> StoredProvisioner:
    return StoredProvisioner(row_id, str(document.get("name")), str(document.get("type")), dict(document), NOW, NOW)


async def test_a_stored_row_that_no_longer_parses_is_logged_once_and_skipped(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with database.write() as tx:
        await provisioners.create(tx, _row("good", {"type": "ACME", "name": "stored"}))
        await provisioners.create(tx, _row("broken", {"type": "ACME", "name": "old", "validation": {"http01port": 80}}))
        await provisioners.create(tx, _row("aws", {"type": "AWS", "name": "cloud"}))
    catalog = ProvisionerCatalog([], database, FrozenClock(NOW))
    with caplog.at_level(logging.ERROR, logger="acmeca.engine.catalog"):
        assert [e.name for e in await catalog.all()] == ["stored"]
        catalog.invalidate()
        assert [e.name for e in await catalog.all()] == ["stored"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].__dict__["id"] == "broken"
    assert "validation.http01port: unknown key" in errors[0].__dict__["reason"]


async def test_stored_rows_merge_over_the_authority_claims(database: Database) -> None:
    async with database.write() as tx:
        await provisioners.create(tx, _row("p", {"type": "ACME", "name": "p", "claims": {"maxTLSCertDuration": "48h"}}))
    base = parse_provisioner({"type": "ACME", "name": "x"}, authority_claims=Claims()).claims
    catalog = ProvisionerCatalog([], database, FrozenClock(NOW), authority_claims=base)
    [entry] = await catalog.all()
    assert entry.claims.max_duration.total_seconds() == 48 * 3600


async def test_per_entry_builds_once_per_change(database: Database) -> None:
    built: list[str] = []
    config = parse_provisioner({"type": "ACME", "name": "a"}, authority_claims=Claims())
    catalog = ProvisionerCatalog([config], database, FrozenClock(NOW))
    views = PerEntry(lambda entry: built.append(entry.name) or entry.name)
    for _ in range(3):
        views.get((await catalog.all())[0])
    assert built == ["a"]
    catalog.replace_config([config])  # a SIGHUP hands out new entries
    views.get((await catalog.all())[0])
    assert built == ["a", "a"]
