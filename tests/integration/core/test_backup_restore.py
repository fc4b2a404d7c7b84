"""``acmeca db backup`` and ``restore`` against a real ``acmeca serve`` on SQLite.

Issue and revoke, back up (online), issue and revoke more and spend a token, wipe the database, restore, and
check that the restore did not reopen the lost history: revocations as of the backup, CRL numbers that never
go backwards, spent tokens refused, no serial reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography import x509
from sqlalchemy.engine import make_url

from acmeca.cli.main import main
from acmeca.config import parse_database
from acmeca.store import restore
from acmeca.store.database import Database, database_settings
from tests.support.ca_server import CAServer, init_ca
from tests.support.databases import fresh_db_config
from tests.support.https import call


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def sqlite_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CAServer]:
    """An initialised CA on SQLite with a CRL per revocation; the CLI runs in this process (no start-up cost)."""
    db, _ = fresh_db_config("sqlite", tmp_path)
    server = init_ca(tmp_path / "ca", db)
    server.edit_config(lambda d: d.update({"crl": {"enabled": True, "generateOnRevoke": True, "cacheDuration": "1h"}}))
    for name in [n for n in os.environ if n.startswith("ACMECA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ACMECA_PATH", str(server.home))
    yield server
    server.stop()


def cli(*args: str, code: int = 0) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        returned = main(list(args))
    run = Run(returned, out.getvalue(), err.getvalue())
    assert run.code == code, run
    return run


def _issue(ca: CAServer, name: str, directory: Path, *token: str) -> x509.Certificate:
    crt, key = directory / f"{name}.crt", directory / f"{name}.key"
    credentials = ("--token", *token) if token else ("--provisioner-password-file", str(ca.password_file))
    cli("certificate", name, str(crt), str(key), *credentials)
    return x509.load_pem_x509_certificates(crt.read_bytes())[0]


def _revoke(ca: CAServer, serial: int, *, code: int = 0) -> Run:
    return cli("revoke", str(serial), "--provisioner-password-file", str(ca.password_file), code=code)


def _crl(ca: CAServer) -> x509.CertificateRevocationList:
    reply = call(f"{ca.url}/1.0/crl", root=ca.root_path)
    assert reply.status == 200
    return x509.load_der_x509_crl(reply.body)


def _number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def test_restore_keeps_history_from_reopening(sqlite_ca: CAServer, tmp_path: Path) -> None:
    ca, backup = sqlite_ca, tmp_path / "backup.db"
    database = Path(ca.config()["db"]["dataSource"])
    ca.start()
    before = _issue(ca, "before.test", tmp_path)
    _revoke(ca, before.serial_number)
    out = cli("db", "backup", str(backup)).stdout
    assert re.fullmatch(rf"Backed up {re.escape(str(database))} to {re.escape(str(backup))} at \S+Z\.\n", out)
    taken_at = out.rsplit(" at ", 1)[1].strip().rstrip(".")

    after = _issue(ca, "after.test", tmp_path)
    _revoke(ca, after.serial_number)
    spent = cli("token", "spent.test", "--provisioner", "admin", "--provisioner-password-file",
                str(ca.password_file)).stdout.strip()
    lost = _issue(ca, "spent.test", tmp_path, spent)
    highest = _number(_crl(ca))

    refused = cli("db", "restore", str(backup), code=1)
    assert f"a server is using {database}" in refused.stderr
    ca.stop()
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)

    restored = cli("db", "restore", str(backup)).stdout.splitlines()
    returned_at = datetime.now(UTC)
    assert restored[0] == f"Restored {database} from {backup}, a backup taken at {taken_at}."
    assert "certificates issued since then cannot be revoked by serial" in restored[1]
    assert "revocations made since then are undone" in restored[1]
    mark, floor_text = re.fullmatch(r"Nonces and one-time tokens issued before (\S+Z) are refused; CRL numbers "
                                    r"continue above (\d+)\.", restored[2]).groups()  # type: ignore[union-attr]
    floor = int(floor_text)
    # Token times are whole seconds: the command returns only once the mark has passed, so a token minted
    # from here on (the revoke below) is not refused as one issued before the restore.
    assert returned_at >= datetime.strptime(mark, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    ca.start()
    crl = _crl(ca)
    listed = {entry.serial_number for entry in crl}
    assert before.serial_number in listed, "a revocation from before the backup survives"
    assert after.serial_number not in listed, "a revocation after the backup is undone, as the restore says"
    assert _number(crl) > highest, "the CRL number never goes backwards"
    assert _number(crl) == floor + 1
    assert "not found" in _revoke(ca, after.serial_number, code=1).stderr.lower()

    replay = cli("certificate", "spent.test", str(tmp_path / "r.crt"), str(tmp_path / "r.key"), "--token", spent,
                 code=1)
    assert "issued before the CA's database was restored from a backup" in replay.stderr
    fresh = _issue(ca, "fresh.test", tmp_path)
    assert fresh.serial_number not in {before.serial_number, after.serial_number, lost.serial_number}
    assert ca.stop() == 0


def test_refusals(sqlite_ca: CAServer) -> None:
    """A file backup did not write is refused; on PostgreSQL, backup names the pg_dump command instead."""
    database = Path(sqlite_ca.config()["db"]["dataSource"])
    assert "was not written by 'acmeca db backup'" in cli("db", "restore", str(database), code=1).stderr
    sqlite_ca.edit_config(
        lambda d: d.update({"db": {"type": "postgresql", "dataSource": "postgresql://backup:s3cret@db.internal:5433/acmeca"}})
    )
    assert cli("db", "backup", "ca.dump", code=1).stderr.strip() == (
        "error: acmeca db backup works on SQLite databases only; for PostgreSQL use pg_dump --format=custom "
        "--file=ca.dump --host=db.internal --port=5433 --username=backup acmeca"
    )


@contextlib.contextmanager
def _another_session(dsn: str) -> Iterator[None]:
    """A connection held open from another thread, as a running replica would hold one."""
    ready, done = threading.Event(), threading.Event()

    async def hold() -> None:
        connection = await asyncpg.connect(dsn)
        ready.set()
        await asyncio.to_thread(done.wait)
        await connection.close()

    thread = threading.Thread(target=lambda: asyncio.run(hold()))
    thread.start()
    assert ready.wait(10)
    try:
        yield
    finally:
        done.set()
        thread.join()


async def _restored_at(db: dict[str, Any]) -> datetime | None:
    database = Database.connect(database_settings(parse_database(db)))
    try:
        async with database.read() as tx:
            return await restore.restored_at(tx)
    finally:
        await database.close()


@pytest.mark.postgres
def test_postgresql_is_restored_with_pg_restore_then_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, drop = fresh_db_config("postgresql", tmp_path, exclusive=True)
    try:
        server = init_ca(tmp_path / "ca", db)
        monkeypatch.setenv("ACMECA_PATH", str(server.home))
        url = make_url(db["dataSource"])
        refused = cli("db", "restore", "ca.dump", code=1).stderr
        assert f"pg_restore --clean --if-exists --no-owner --host={url.host} --port={url.port} " in refused
        assert refused.strip().endswith(f"--dbname={url.database} ca.dump, then acmeca db restore --in-place")
        with _another_session(db["dataSource"]):
            busy = cli("db", "restore", "--in-place", code=1).stderr
        assert "other connection(s) to database" in busy
        assert asyncio.run(_restored_at(db)) is None
        out = cli("db", "restore", "--in-place").stdout.splitlines()
        assert out[0] == f"Prepared the restored database {url.database} to serve."
        assert out[1].startswith("What the CA did after the backup is unknown to it now")
        restored = asyncio.run(_restored_at(db))
        assert restored is not None
        assert f"issued before {restored.strftime('%Y-%m-%dT%H:%M:%SZ')} are refused" in out[2]
    finally:
        drop()
