"""``acmeca serve``: run the CA."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file
from acmeca.cli.help import Example, add_command
from acmeca.cli.passwords import has_terminal, is_encrypted_key_file, prompt_password
from acmeca.config import acmeca_path, load_config
from acmeca.logs import setup_logging
from acmeca.server.database import StartupError
from acmeca.server.run import freeze_startup_heap
from acmeca.server.run import serve as run_server
from acmeca.server.workers import WorkersError, parse_workers, resolve_workers


def config_path(value: str | None) -> Path:
    return Path(value) if value else acmeca_path() / "config" / "ca.json"


def serve(args: argparse.Namespace) -> int:
    try:
        requested = parse_workers(args.workers)
    except WorkersError as exc:
        raise CLIError(str(exc)) from None
    config = load_config(config_path(args.config))
    workers = resolve_workers(requested, config.db.type)
    setup_logging(config.logger.format, config.logger.level_number)
    password = read_password_file(args.password_file) if args.password_file else None
    if password is None and not config.password and (has_terminal() or is_encrypted_key_file(config.key)):
        password = prompt_password("Please enter the password to decrypt the intermediate key: ",
                                   what="the intermediate key's password", flag="--password-file")

    def ready(address: str) -> None:
        freeze_startup_heap()
        _, port = config.host_port
        print(f"acmeca is serving on https://{config.dns_names[0]}:{port}", flush=True)

    migrate = True if args.migrate else None
    try:
        if workers == 1:
            asyncio.run(run_server(config, password, migrate=migrate, ready=ready))
        else:
            from acmeca.server.supervisor import supervise

            asyncio.run(supervise(config, password, workers=workers, migrate=migrate, ready=ready))
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
password is prompted for when standard input is a terminal. Without a terminal, an encrypted key is refused
in one line that names --password-file.

--workers runs that many processes on the one address, each serving every API; they share state only
through the database, as replicas do. The default, auto, is the number of usable CPUs (affinity mask and
cgroup quota), at most two on SQLite (one writer per file). With more than one, this process
supervises the workers: it issues the CA's TLS certificate for all of them, forwards SIGHUP and SIGTERM, and
restarts a worker that dies.

On start the database schema is checked: the embedded SQLite database is migrated in place, while a
PostgreSQL database must be migrated first with 'acmeca db migrate' (or --migrate). A CA that cannot start
says why in one line and exits non-zero.""",
        examples=[
            Example("Run the CA that 'acmeca init' created:", "acmeca serve --password-file password.txt"),
            Example("Run a CA from another configuration, migrating its database first:",
                    "acmeca serve --config /etc/acmeca/ca.json --password-file /etc/acmeca/password --migrate"),
            Example("Run four worker processes on a PostgreSQL database:",
                    "acmeca serve --config /etc/acmeca/ca.json --password-file /etc/acmeca/password --workers 4"),
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
    parser.add_argument("--workers", metavar="N", default="auto",
                        help="The number of server processes, 1 to 64, or 'auto' (the default): one per usable "
                             "CPU, at most two on SQLite.")
    parser.set_defaults(handler=serve)
