"""The client commands start without the server's imports.

They run inside renew daemons, exec hooks and scripts, where each run pays its imports again; SQLAlchemy,
alembic and the engine would add about half a second to every one of them.
"""

from __future__ import annotations

import subprocess
import sys

CLIENT_COMMANDS = (
    "init", "health", "bootstrap", "root", "roots", "federation", "token", "certificate", "sign", "renew",
    "rekey", "revoke", "provisioner", "admin", "policy", "acme",
)
SERVER_ONLY = ("sqlalchemy", "alembic", "asyncpg", "acmeca.store.database", "acmeca.engine.issuer")


def test_client_commands_do_not_import_the_store_or_the_engine() -> None:
    probe = (
        "import sys\n"
        "from acmeca.cli.main import build_parser\n"
        f"for command in {CLIENT_COMMANDS!r}:\n"
        "    build_parser([command])\n"
        f"print(' '.join(m for m in {SERVER_ONLY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "", f"imported by a client command: {result.stdout.strip()}"
