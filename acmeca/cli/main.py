"""``acmeca``: argument parsing, dispatch, and the one-line error contract."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from acmeca import __version__
from acmeca.cli.commands import ca, db, init, serve
from acmeca.cli.errors import CLIError
from acmeca.config import ConfigError

COMMAND_MODULES: list[ModuleType] = [init, serve, db, ca]


def _optional_modules() -> list[ModuleType]:
    """Command groups that land with later features register themselves here when present."""
    import importlib

    found = []
    for name in ("lifecycle", "provisioner", "admin", "policy", "acme"):
        try:
            found.append(importlib.import_module(f"acmeca.cli.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"acmeca.cli.commands.{name}":
                raise
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acmeca", description="An ACME-first certificate authority with a step-ca compatible API."
    )
    parser.add_argument("--version", action="version", version=f"acmeca {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="<command>")
    for module in [*COMMAND_MODULES, *_optional_modules()]:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
        if os.environ.get("ACMECA_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
