"""``acmeca db migrate``: apply schema migrations explicitly (required on PostgreSQL)."""

from __future__ import annotations

import argparse

from acmeca.cli.commands.serve import config_path
from acmeca.cli.errors import CLIError
from acmeca.config import load_config
from acmeca.server.database import StartupError, settings_of
from acmeca.store.database import Database
from acmeca.store.migrate import SchemaMismatch, upgrade


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


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("db", help="database maintenance")
    sub = parser.add_subparsers(dest="db_command", metavar="<subcommand>", required=True)
    mig = sub.add_parser("migrate", help="apply pending schema migrations")
    mig.add_argument("--config", help="path to ca.json")
    mig.set_defaults(handler=migrate)
