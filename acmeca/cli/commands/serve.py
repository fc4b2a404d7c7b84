"""``acmeca serve``: run the CA."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file
from acmeca.cli.help import Example, add_command
from acmeca.config import acmeca_path, load_config
from acmeca.logs import setup_logging
from acmeca.server.database import StartupError
from acmeca.server.run import serve as run_server


def config_path(value: str | None) -> Path:
    return Path(value) if value else acmeca_path() / "config" / "ca.json"


def serve(args: argparse.Namespace) -> int:
    config = load_config(config_path(args.config))
    setup_logging(config.logger.format, config.logger.level_number)
    password = read_password_file(args.password_file) if args.password_file else None
    if password is None and not config.password and os.isatty(0):
        import getpass

        password = getpass.getpass("Please enter the password to decrypt the intermediate key: ").encode()

    def ready(address: str) -> None:
        _, port = config.host_port
        print(f"acmeca is serving on https://{config.dns_names[0]}:{port}", flush=True)

    try:
        asyncio.run(run_server(config, password, migrate=True if args.migrate else None, ready=ready))
    except StartupError as exc:
        raise CLIError(str(exc)) from None
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        commands, "serve", summary="run the certificate authority",
        description="""\
acmeca serve runs the CA described by ca.json (the counterpart of the step-ca binary): the step-ca API, the
ACME API of its ACME provisioners and, with enableAdmin, the admin API, over HTTPS on ca.json's address.
It runs in the foreground until SIGTERM or SIGINT, and reloads its configuration on SIGHUP.

The intermediate key is decrypted with --password-file, or the password in ca.json; failing both, the
password is prompted for when standard input is a terminal.

On start the database schema is checked: the embedded SQLite database is migrated in place, while a
PostgreSQL database must be migrated first with 'acmeca db migrate' (or --migrate). A CA that cannot start
says why in one line and exits non-zero.""",
        examples=[
            Example("Run the CA that 'acmeca init' created:", "acmeca serve --password-file password.txt"),
            Example("Run a CA from another configuration, migrating its database first:",
                    "acmeca serve --config /etc/acmeca/ca.json --password-file /etc/acmeca/password --migrate"),
            Example("Run the CA in the background, then make it reload its configuration:",
                    "acmeca serve --password-file password.txt &\nkill -HUP $!"),
        ],
    )
    parser.add_argument("--config", metavar="file",
                        help="The ca.json to run. Defaults to $ACMECA_PATH/config/ca.json.")
    parser.add_argument("--password-file", metavar="file",
                        help="The file with the password that decrypts the intermediate key (trailing whitespace "
                             "is ignored).")
    parser.add_argument("--migrate", action="store_true",
                        help="Apply pending database migrations before serving (needed for PostgreSQL, automatic "
                             "for SQLite).")
    parser.set_defaults(handler=serve)
