"""``acmeca``: argument parsing, dispatch, and the one-line error contract."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
from collections.abc import Sequence
from types import ModuleType

from acmeca import __version__
from acmeca.cli.errors import CLIError
from acmeca.cli.help import CommandParser, Example
from acmeca.config import ConfigError, environment_default

# Command -> the module under acmeca.cli.commands that registers it. Only the module a command needs is
# imported, so `acmeca health` does not pay for the server's imports (the CLI runs inside renew daemons,
# hooks and scripts, where start-up time adds up).
COMMANDS: dict[str, str] = {
    "init": "init", "serve": "serve", "db": "db", "intermediate": "intermediate",
    "health": "ca", "bootstrap": "ca", "root": "ca", "roots": "ca", "federation": "ca",
    "token": "lifecycle", "certificate": "lifecycle", "sign": "lifecycle",
    "renew": "lifecycle", "rekey": "lifecycle", "revoke": "lifecycle",
    "provisioner": "provisioner", "admin": "admin", "policy": "policy", "acme": "acme", "dev": "dev",
}


def _modules_for(argv: Sequence[str]) -> list[ModuleType]:
    command = next((a for a in argv if not a.startswith("-")), None)
    wanted = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    modules = []
    for name in wanted:
        try:
            modules.append(importlib.import_module(f"acmeca.cli.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"acmeca.cli.commands.{name}":
                raise
    return modules


DESCRIPTION = """\
acmeca is an ACME-first certificate authority whose API is compatible with step-ca. Its subcommands mirror
'step ca': init creates the PKI and ca.json, serve runs the CA, and the other commands are clients of a
running CA (or, with --offline, act as the CA through its configuration files).

Flags that name the CA fall back to the environment and then to $ACMECA_PATH/config/defaults.json, which
init and bootstrap write: --ca-url to $ACMECA_CA_URL, --root to $ACMECA_ROOT. $ACMECA_PATH defaults to
~/.acmeca, the counterpart of step's $STEPPATH.

Run 'acmeca <command> --help' for a command's own page."""

EXAMPLES = (
    Example("Create a PKI and start the CA:",
            "acmeca init --name Example --dns ca.example.com --address :443 --provisioner admin \\\n"
            "    --password-file password.txt\n"
            "acmeca serve --password-file password.txt"),
    Example("Trust a CA from another machine, then check that it is up:",
            "acmeca bootstrap --ca-url https://ca.example.com \\\n"
            "    --fingerprint 0d7d3834cf187726cf331c40a31aa7ef6b29ba4df601416c9788f6ee01058cf3\n"
            "acmeca health"),
    Example("Get a certificate and its private key:",
            "acmeca certificate internal.example.com internal.crt internal.key"),
)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = CommandParser(prog="acmeca", summary="an ACME-first certificate authority",
                           description=DESCRIPTION, examples=EXAMPLES)
    parser.add_argument("--version", action="version", version=f"acmeca {__version__}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="<command>")
    for module in _modules_for(argv):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        result = handler(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if environment_default("debug"):
            raise
        print(f"error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
