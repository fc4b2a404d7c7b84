"""The composition root with remote management: ca.json's provisioners imported once, then ignored."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from acmeca.config import load_config, parse_database
from acmeca.crypto.jose import generate_jwk, public_part
from acmeca.domain.clock import SystemClock
from acmeca.engine.catalog import config_entry
from acmeca.server.graph import GraphOptions, service_graph
from acmeca.server.stored_management import IGNORED, import_config_provisioners
from acmeca.store import provisioners
from acmeca.store.database import Database, database_settings
from tests.support.inprocess import PASSWORD, CAHome, write_ca

OPTIONS = GraphOptions(background=False, server_tls=False, cpu_workers=1)


def _ca(tmp_path: Path, db: dict[str, Any]) -> CAHome:
    listed = [
        {"type": "ACME", "name": "first-acme"},
        {"type": "JWK", "name": "ops", "key": public_part(generate_jwk("EC", "P-256"))},
        {"type": "JWK", "name": "second", "key": public_part(generate_jwk("EC", "P-256"))},
    ]
    return write_ca(tmp_path / "ca", db, authority={"provisioners": listed, "enableAdmin": True,
                                                     "adminSubject": "root"})


async def test_imported_once_with_the_ids_they_had_then_ignored(
    ca_db: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(_ca(tmp_path, ca_db).config_path)
    caplog.set_level(logging.INFO, logger="acmeca.server.stored_management")
    async with service_graph(config, PASSWORD, options=OPTIONS) as graph:
        entries = await graph.catalog.all()
        assert [(e.name, e.from_config) for e in entries] == [("first-acme", False), ("ops", False),
                                                              ("second", False)]
        assert [e.id for e in entries] == [config_entry(p).id for p in config.authority.provisioners]
        admins = (await graph.admin.admins.page())[0]
        assert [(a["subject"], a["provisioner_id"]) for a in admins] == [("root", entries[1].id)]  # the first JWK
        async with graph.database.write() as tx:
            for entry in entries:
                await provisioners.delete(tx, entry.id, at=graph.clock.now())
    assert [r.message for r in caplog.records].count("imported the provisioners of ca.json into the database") == 1
    caplog.clear()
    async with service_graph(config, PASSWORD, options=OPTIONS) as graph:
        assert await graph.catalog.all() == []  # deleted through the API stays deleted: no second import
    assert [r.message for r in caplog.records] == [IGNORED]


async def test_replicas_starting_together_import_once(ca_db: dict[str, Any], tmp_path: Path) -> None:
    config = load_config(_ca(tmp_path, ca_db).config_path)
    replicas = [Database.connect(database_settings(parse_database(ca_db))) for _ in range(2)]
    try:
        await asyncio.gather(*(import_config_provisioners(r, config, SystemClock()) for r in replicas))
        async with replicas[0].read() as tx:
            rows = await provisioners.live(tx)
    finally:
        for replica in replicas:
            await replica.close()
    assert [r.id for r in rows] == [config_entry(p).id for p in config.authority.provisioners]
