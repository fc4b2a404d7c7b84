"""Password prompts: getpass in a terminal, and without one a one-line error that names the flag to use.

Without a terminal (a script, CI, a systemd unit, an editor's task runner) the stdlib's getpass falls back to
stdin, warns with GetPassWarning and then fails with a bare EOFError; the user learns nothing about
``--password-file``. The demo that ``make run`` creates keeps its password in ``.acmeca/password``, which
also decrypts the demo's ``admin`` provisioner (init uses one password for both), so the error points there
when that file exists.
"""

from __future__ import annotations

import sys
from pathlib import Path

from acmeca.cli.errors import CLIError
from acmeca.config import acmeca_path

DEMO_PASSWORD = Path(".acmeca") / "password"


def has_terminal() -> bool:
    return sys.stdin.isatty()


def demo_password_file() -> Path | None:
    """``make run``'s password file when this looks like the demo: ``$ACMECA_PATH/password``, ``./.acmeca/password``."""
    for candidate in (acmeca_path() / "password", DEMO_PASSWORD):
        if candidate.is_file():
            return candidate
    return None


def no_terminal(what: str, flag: str) -> CLIError:
    """The one-line error for a password that cannot be prompted for."""
    demo = demo_password_file()
    hint = f" (the make run demo's password is in {demo})" if demo is not None else ""
    return CLIError(f"cannot prompt for {what} without a terminal: pass {flag} <file>{hint}")


def prompt_password(prompt: str, *, what: str, flag: str) -> bytes:
    """The password typed at ``prompt``; without a terminal, the one-line error naming ``flag``."""
    if not has_terminal():
        raise no_terminal(what, flag)
    import getpass

    return getpass.getpass(prompt).encode()


def is_encrypted_key_file(path: Path) -> bool:
    """True when the PEM key at ``path`` is password-protected (PKCS#8 or the legacy Proc-Type header)."""
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False  # the server reports an unreadable key with its own one-line error
    return b"ENCRYPTED" in head
