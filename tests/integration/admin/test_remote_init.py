"""``init --remote-management`` as current step CLIs do it, and ca.json files from before it (SQLite, PostgreSQL).

init puts its provisioners and the first SUPER_ADMIN in the database and leaves ca.json's list out; a ca.json
that still lists provisioners with ``enableAdmin`` is imported on the first start, then ignored with a warning.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

from acmeca.config import parse_database
from acmeca.domain.management import AdminRecord, StoredProvisioner
from acmeca.server.stored_management import IGNORED
from acmeca.store import admins, provisioners
from acmeca.store.database import Database, database_settings
from tests.support.ca_server import CAServer, init_ca
from tests.support.databases import fresh_db_config

IMPORTED = "imported the provisioners of ca.json into the database"


def stored(db: dict[str, Any]) -> tuple[list[StoredProvisioner], list[AdminRecord]]:
    async def read() -> tuple[list[StoredProvisioner], list[AdminRecord]]:
        database = Database.connect(database_settings(parse_database(db)))
        try:
            async with database.read() as tx:
                return await provisioners.live(tx), await admins.live(tx)
        finally:
            await database.close()

    return asyncio.run(read())


def listed(server: CAServer) -> dict[str, dict[str, Any]]:
    context = ssl.create_default_context(cafile=str(server.root_path))
    with urllib.request.urlopen(f"{server.url}/provisioners", context=context, timeout=5) as response:
        return {p["name"]: p for p in json.loads(response.read())["provisioners"]}


def admin_flags(server: CAServer) -> tuple[str, ...]:
    return ("--admin-password-file", str(server.password_file))  # subject `step`, the only JWK provisioner


def test_init_puts_provisioners_and_the_super_admin_in_the_database(backend: str, tmp_path: Path) -> None:
    db, drop = fresh_db_config(backend, tmp_path)
    server = init_ca(tmp_path / "ca", db, extra=("--remote-management",))
    try:
        assert server.config()["authority"] == {"enableAdmin": True, "adminSubject": "step"}
        rows, people = stored({"type": "sqlite", "dataSource": str(server.home / "db" / "acmeca.db")})
        assert [(r.name, r.type) for r in rows] == [("admin", "JWK"), ("acme", "ACME")]
        assert rows[0].document["encryptedKey"]
        assert [(a.subject, a.provisioner_id, a.type.value) for a in people] == [
            ("step", rows[0].id, "SUPER_ADMIN")
        ]
        server.start()
        assert set(listed(server)) == {"admin", "acme"}
        server.cli("provisioner", "update", "acme", "--require-eab", *admin_flags(server))  # the `step` admin
        assert listed(server)["acme"]["requireEAB"] is True
        admins_listed = server.cli("admin", "list", *admin_flags(server)).stdout
        assert ["step", "admin", "(JWK)", "SUPER_ADMIN"] in [line.split() for line in admins_listed.splitlines()]
        assert IGNORED not in server.log()
    finally:
        server.stop()
        drop()


def test_a_legacy_ca_json_is_imported_once_then_ignored(backend: str, tmp_path: Path) -> None:
    db, drop = fresh_db_config(backend, tmp_path)
    server = init_ca(tmp_path / "ca", db)  # provisioners in ca.json, as acmeca's init wrote them until now
    try:
        server.start()
        crt, key = tmp_path / "before.crt", tmp_path / "before.key"
        server.cli("certificate", "before.test", str(crt), str(key), "--provisioner", "admin",
                   "--provisioner-password-file", str(server.password_file))
        server.stop()
        server.edit_config(lambda d: d["authority"].update({"enableAdmin": True}))
        server.start()
        log = server.log()
        assert log.count(IMPORTED) == 1
        assert log.count(IGNORED) == 1
        rows, people = stored(db)
        assert [(r.name, r.type) for r in rows] == [("admin", "JWK"), ("acme", "ACME")]
        assert [(a.subject, a.provisioner_id) for a in people] == [("step", rows[0].id)]
        assert set(listed(server)) == {"admin", "acme"}
        server.cli("provisioner", "update", "acme", "--require-eab", *admin_flags(server))
        assert listed(server)["acme"]["requireEAB"] is True
        # Same ids as the ca.json entries had: a certificate issued before the import still renews.
        server.cli("renew", str(crt), str(key), "--force")

        server.stop()
        server.edit_config(lambda d: d["authority"]["provisioners"].append({"type": "ACME", "name": "late"}))
        server.start()
        log = server.log()
        assert log.count(IMPORTED) == 1
        assert log.count(IGNORED) == 2
        assert set(listed(server)) == {"admin", "acme"}
        assert listed(server)["acme"]["requireEAB"] is True  # the database, not ca.json
    finally:
        server.stop()
        drop()
