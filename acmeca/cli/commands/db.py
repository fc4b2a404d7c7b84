"""``acmeca db migrate``: apply schema migrations explicitly (required on PostgreSQL)."""

from __future__ import annotations

import argparse

from acmeca.cli.commands.serve import config_path
from acmeca.cli.errors import CLIError
from acmeca.cli.help import Example, add_command, add_group
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
    sub = add_group(
        commands, "db", summary="database maintenance", dest="db_command",
        description="""\
acmeca db groups the commands that maintain the CA's database, which ca.json's db section names (SQLite
or PostgreSQL). They work on the database directly, not through a running CA.""",
        examples=[
            Example("Apply pending schema migrations to the database of the default ca.json:", "acmeca db migrate"),
            Example("Apply them to the database of another configuration:",
                    "acmeca db migrate --config /etc/acmeca/ca.json"),
        ],
    )
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
