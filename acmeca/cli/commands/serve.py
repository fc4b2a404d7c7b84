"""``acmeca serve``: run the CA."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file
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
    parser = commands.add_parser("serve", help="run the certificate authority")
    parser.add_argument("--config", help="path to ca.json (default $ACMECA_PATH/config/ca.json)")
    parser.add_argument("--password-file", help="file with the password that decrypts the intermediate key")
    parser.add_argument("--migrate", action="store_true", help="apply pending database migrations first")
    parser.set_defaults(handler=serve)
