"""Files the CLI reads and writes: password files, defaults.json, outputs (0600, atomic)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from acmeca.cli.errors import CLIError
from acmeca.config import acmeca_path, environment_default
from acmeca.crypto.keys import write_private_file


def read_password_file(path: str | Path) -> bytes:
    """step's rule: trailing whitespace and newlines are not part of the password."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CLIError(f"cannot read password file {path}: {exc.strerror}") from None
    password = data.rstrip()
    if not password:
        raise CLIError(f"password file {path} is empty")
    return password


def defaults_path() -> Path:
    return acmeca_path() / "config" / "defaults.json"


def read_defaults() -> dict[str, Any]:
    path = defaults_path()
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None
    return value if isinstance(value, dict) else {}


def flag_or_default(value: str | None, name: str) -> str | None:
    """A flag, else ``ACMECA_<NAME>``, else the same key in defaults.json (step's lookup order)."""
    if value:
        return value
    from_env = environment_default(name)
    if from_env:
        return from_env
    found = read_defaults().get(name)
    return str(found) if found else None


def write_json(path: Path, document: dict[str, Any], *, private: bool = False) -> None:
    data = (json.dumps(document, indent=4) + "\n").encode()
    if private:
        write_private_file(path, data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_output(path: Path, data: bytes, *, force: bool) -> None:
    """Write a certificate or key the way step does: refuse to overwrite unless forced; always 0600."""
    if path.exists() and not force:
        raise CLIError(f"file {path} already exists; use --force to overwrite it")
    write_private_file(path, data)
