"""``acmeca db``: schema migrations (required on PostgreSQL), and backup and restore of an SQLite database.

A restore brings back a past state of the CA, so it must not reopen what happened after the backup: the
copy is sealed (acmeca.store.restore) before it replaces the live database, in one step of SQLite's backup
API, and only while no server holds the database (acmeca.store.file_lock).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from sqlalchemy.engine import URL, make_url

from acmeca.acme.service.nonces import SECRET_SETTING, new_secret
from acmeca.cli.commands.serve import config_path
from acmeca.cli.errors import CLIError
from acmeca.cli.help import Example, add_command, add_group
from acmeca.config import CAConfig, load_config
from acmeca.crypto import certs
from acmeca.engine.crl import crl_counter
from acmeca.engine.trust import retired_intermediates
from acmeca.server.database import StartupError, settings_of
from acmeca.store.database import Database, DatabaseSettings
from acmeca.store.file_lock import DatabaseInUse, hold_exclusive, lock_path
from acmeca.store.migrate import SchemaMismatch, upgrade
from acmeca.store.restore import Sealed, other_sessions, seal
from acmeca.store.sqlite_copy import NotABackup, copy_database, read_backup_time, write_backup
from acmeca.store.transaction import Transaction


async def migrate(args: argparse.Namespace) -> int:
    config = load_config(config_path(args.config))
    try:
        database = Database.connect(settings_of(config.db))
    except StartupError as exc:
        raise CLIError(str(exc)) from None
    try:
        before, after = await upgrade(database)
    except SchemaMismatch as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot reach the database: {exc}") from None
    finally:
        await database.close()
    if before == after:
        print(f"The database schema is up to date ({after}).")
    else:
        print(f"Migrated the database schema from {before or 'empty'} to {after}.")
    return 0


def _database_url(config: CAConfig) -> URL:
    try:
        return make_url(settings_of(config.db).url)
    except StartupError as exc:
        raise CLIError(str(exc)) from None


def _sqlite_path(url: URL, command: str, postgres_advice: str) -> Path:
    if url.get_backend_name() != "sqlite":
        raise CLIError(f"acmeca db {command} works on SQLite databases only; for PostgreSQL use {postgres_advice}")
    if not url.database or url.database == ":memory:":
        raise CLIError("ca.json's db.dataSource names no database file")
    return Path(url.database)


def pg_dump_line(url: URL, file: str) -> str:
    """The pg_dump command the docs give, for this database (the password stays out: use ~/.pgpass)."""
    parts = ["pg_dump", "--format=custom", f"--file={file}"]
    parts += [f"--host={url.host}"] if url.host else []
    parts += [f"--port={url.port}"] if url.port else []
    parts += [f"--username={url.username}"] if url.username else []
    return " ".join([*parts, url.database or ""])


def backup(args: argparse.Namespace) -> int:
    config = load_config(config_path(args.config))
    url = _database_url(config)
    database = _sqlite_path(url, "backup", pg_dump_line(url, args.file))
    taken_at = datetime.now(UTC).replace(microsecond=0)
    try:
        write_backup(database, Path(args.file), taken_at)
    except (OSError, sqlite3.Error) as exc:
        raise CLIError(f"cannot back up {database}: {exc}") from None
    print(f"Backed up {database} to {args.file} at {_utc(taken_at)}.")
    return 0


def pg_restore_line(url: URL, file: str) -> str:
    """pg_restore for this database; ``acmeca db restore --in-place`` must follow it."""
    parts = ["pg_restore", "--clean", "--if-exists", "--no-owner"]
    parts += [f"--host={url.host}"] if url.host else []
    parts += [f"--port={url.port}"] if url.port else []
    parts += [f"--username={url.username}"] if url.username else []
    return " ".join([*parts, f"--dbname={url.database or ''}", file])


async def restore(args: argparse.Namespace) -> int:
    config = load_config(config_path(args.config))
    url = _database_url(config)
    if args.in_place:
        return await _restore_in_place(config, url)
    if not args.file:
        raise CLIError("give the backup FILE to restore (or --in-place after pg_restore on PostgreSQL)")
    advice = f"{pg_restore_line(url, args.file)}, then acmeca db restore --in-place"
    target = _sqlite_path(url, "restore FILE", advice)
    source = Path(args.file)
    try:
        taken_at = read_backup_time(source)
    except NotABackup as exc:
        raise CLIError(str(exc)) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock = hold_exclusive(target)
    except DatabaseInUse:
        raise CLIError(
            f"a server is using {target} (it holds {lock_path(target)}): stop every acmeca serve of this database, "
            "then restore"
        ) from None
    staging = target.with_name(f".{target.name}.restore.tmp")
    try:
        _remove_sqlite(staging)
        copy_database(source, staging)
        sealed = await _seal(staging, config)
        copy_database(staging, target)
    except (OSError, sqlite3.Error) as exc:
        raise CLIError(f"cannot restore {target}: {exc}; the database is unchanged") from None
    finally:
        _remove_sqlite(staging)
        lock.release()
    _report(target, source, taken_at, sealed)
    await _past_the_mark(sealed)
    return 0


async def _restore_in_place(config: CAConfig, url: URL) -> int:
    """PostgreSQL after pg_restore: seal the database where it is, while nothing else is connected to it."""
    if url.get_backend_name() == "sqlite":
        raise CLIError("--in-place is for PostgreSQL after pg_restore; on SQLite give the backup FILE")
    database = Database.connect(settings_of(config.db))
    try:
        async with database.write() as tx:
            others = await other_sessions(tx)
            if others:
                raise CLIError(
                    f"{others} other connection(s) to database {url.database}: stop every acmeca serve of it, "
                    "then restore"
                )
            sealed = await _seal_in(tx, config)
    except OSError as exc:
        raise CLIError(f"cannot reach the database: {exc}") from None
    finally:
        await database.close()
    print(f"Prepared the restored database {url.database} to serve.")
    _report_sealed(sealed, since="the backup")
    await _past_the_mark(sealed)
    return 0


async def _past_the_mark(sealed: Sealed) -> None:
    """Return once the restore mark has passed (within a second): token times are whole seconds, so a token
    minted in the restore's own second is refused, and a client run right after this command would meet that."""
    remaining = (sealed.restored_at - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        await asyncio.sleep(remaining)


async def _seal(staging: Path, config: CAConfig) -> Sealed:
    """The restore marker, a new nonce key and CRL counters past the time floor, written into the copy."""
    database = Database.connect(DatabaseSettings(url=f"sqlite+aiosqlite:///{staging}"))
    try:
        async with database.write() as tx:
            return await _seal_in(tx, config)
    finally:
        await database.close()


async def _seal_in(tx: Transaction, config: CAConfig) -> Sealed:
    return await seal(
        tx, now=datetime.now(UTC), secrets={SECRET_SETTING: new_secret()},
        crl_counter_names=[crl_counter(certs.subject_key_id(c)) for c in _intermediates(config)],
    )


def _intermediates(config: CAConfig) -> list[x509.Certificate]:
    """The intermediate on disk and the retired ones kept beside it: each numbers its own CRLs."""
    try:
        current = certs.load_pem_bundle(config.crt.read_bytes(), source=str(config.crt))[:1]
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read the intermediate certificate {config.crt}: {exc}") from None
    return [*current, *retired_intermediates(config.crt)]


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _report(target: Path, source: Path, taken_at: datetime, sealed: Sealed) -> None:
    print(f"Restored {target} from {source}, a backup taken at {_utc(taken_at)}.")
    _report_sealed(sealed, since="that time")


def _report_sealed(sealed: Sealed, *, since: str) -> None:
    print(f"What the CA did after {since} is unknown to it now: certificates issued since then cannot be revoked "
          "by serial and get no renewal information (ARI), and revocations made since then are undone.")
    print(f"Nonces and one-time tokens issued before {_utc(sealed.restored_at)} are refused; CRL numbers continue "
          f"above {sealed.crl_floor}.")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = add_group(
        commands, "db", summary="database maintenance", dest="db_command",
        description="""\
acmeca db groups the commands that maintain the CA's database, which ca.json's db section names (SQLite
or PostgreSQL). They work on the database directly, not through a running CA.""",
        examples=[
            Example("Apply pending schema migrations to the database of the default ca.json:", "acmeca db migrate"),
            Example("Apply them to the database of another configuration:",
                    "acmeca db migrate --config /etc/acmeca/ca.json"),
            Example("Back up the SQLite database while the CA runs, and restore it with the CA stopped:",
                    "acmeca db backup /var/backups/acmeca.db\nacmeca db restore /var/backups/acmeca.db"),
        ],
    )
    _register_backup(sub)
    _register_restore(sub)
    parser = add_command(
        sub, "migrate", summary="apply pending schema migrations",
        description="""\
acmeca db migrate brings the schema of the database named in ca.json up to date, and says from which
version to which, or that it already was. 'acmeca serve' migrates an SQLite database by itself, but
refuses to start on a PostgreSQL database whose schema is not current: run this first (once per fleet,
not per replica). A database whose schema this version does not know is refused.""",
        examples=[
            Example("Migrate the database of $ACMECA_PATH/config/ca.json:", "acmeca db migrate"),
            Example("Migrate, then start the CA:",
                    "acmeca db migrate --config /etc/acmeca/ca.json\n"
                    "acmeca serve --config /etc/acmeca/ca.json --password-file /etc/acmeca/password"),
        ],
    )
    parser.add_argument("--config", metavar="file",
                        help="The ca.json whose database to migrate. Defaults to $ACMECA_PATH/config/ca.json.")
    parser.set_defaults(handler=migrate)


def _register_backup(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        sub, "backup", summary="copy the SQLite database to a file, online",
        description="""\
acmeca db backup copies the SQLite database named in ca.json to FILE with SQLite's online backup API: the
CA keeps serving while it runs, and the copy is one consistent moment of the database. The copy is written
beside FILE and renamed into place, so FILE is never half written, and it records the time it was taken,
which 'acmeca db restore' reports. The CA's keys and certificates are files, not in the database: back up
$ACMECA_PATH/secrets and $ACMECA_PATH/certs separately. On PostgreSQL the command refuses and prints the
pg_dump command to use instead.""",
        examples=[
            Example("Back up the database of $ACMECA_PATH/config/ca.json:", "acmeca db backup acmeca-backup.db"),
            Example("Back up the database of another configuration into a dated file:",
                    "acmeca db backup --config /etc/acmeca/ca.json /var/backups/acmeca-$(date +%F).db"),
        ],
    )
    parser.add_argument("file", metavar="FILE", help="Where to write the copy (replaced if it exists).")
    parser.add_argument("--config", metavar="file",
                        help="The ca.json whose database to back up. Defaults to $ACMECA_PATH/config/ca.json.")
    parser.set_defaults(handler=backup)


def _register_restore(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        sub, "restore", summary="replace the SQLite database with a backup",
        description="""\
acmeca db restore replaces the SQLite database named in ca.json with FILE, a copy 'acmeca db backup' wrote.
It refuses while a server uses the database: every 'acmeca serve' holds a shared lock on <database>.lock
for as long as it runs, and the restore needs that lock alone. The backup is copied and prepared beside the
database, then copied into it in one transaction of SQLite's backup API.

What happened after the backup is lost, and the restore keeps it from coming back: nonces and one-time
tokens issued before the restore are refused (token times are whole seconds, so the command returns only
once the next second has begun, and a token minted after it is accepted), and CRL numbers continue above
the restore time in Unix seconds, never below a number already published. Certificates issued after the
backup are unknown to the CA: they cannot be revoked by serial and get no renewal information. The command
prints the backup's time so you know which ones.

On PostgreSQL, restore the dump with pg_restore (the command prints the line), then run
'acmeca db restore --in-place', which does the same to the restored database where it is.""",
        examples=[
            Example("Stop the CA, restore last night's backup, start the CA again:",
                    "systemctl stop acmeca\nacmeca db restore /var/backups/acmeca.db\nsystemctl start acmeca"),
            Example("PostgreSQL: stop every replica, restore the dump, then prepare the database to serve:",
                    "pg_restore --clean --if-exists --no-owner --dbname=acmeca ca.dump\n"
                    "acmeca db restore --in-place --config /etc/acmeca/ca.json"),
        ],
    )
    parser.add_argument("file", metavar="FILE", nargs="?", help="A backup written by 'acmeca db backup'.")
    parser.add_argument("--in-place", action="store_true",
                        help="PostgreSQL: the database already holds the restored data (pg_restore); only make it "
                             "safe to serve. Refused while any other session is connected to it.")
    parser.add_argument("--config", metavar="file",
                        help="The ca.json whose database to replace. Defaults to $ACMECA_PATH/config/ca.json.")
    parser.set_defaults(handler=restore)
