"""A throwaway PostgreSQL cluster: initdb + pg_ctl in a temporary directory, removed after.

The bench runs one per run, and the tests (tests/support/postgres.py) one when no server answers, or one to stop
and start again as a database outage. initdb and pg_ctl refuse to run as root, so as root they run as the
``postgres`` user; the server listens on 127.0.0.1 on a free port with its unix socket inside the temporary
directory, and fsync off (the data is discarded anyway).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import asyncpg


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"the PostgreSQL rows need {name} (Debian: apt-get install postgresql)")
    return found


class Cluster:
    """``start()`` (initdb the first time), ``stop()`` and ``start()`` again at will, always ``remove()``;
    ``pid`` is the postmaster, the root of the cluster's process tree."""

    def __init__(self, prefix: str = "acmeca-pg-") -> None:
        self.directory = Path(tempfile.mkdtemp(prefix=prefix))
        self.data = self.directory / "data"
        self.port = free_port()
        self._as_postgres: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
            self._as_postgres = {"user": user.pw_uid, "group": user.pw_gid}

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _run(self, *command: str) -> None:
        subprocess.run(command, check=True, capture_output=True, timeout=120, **self._as_postgres)

    def start(self) -> None:
        if not self.data.exists():
            self._run(_pg_binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "log")
        self._run(_pg_binary("pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-l", log, "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session (clients see their connections close); ``immediate`` also skips the
        shutdown checkpoint, as a crash would."""
        self._run(_pg_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if self.data.exists():
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    async def create_database(self, name: str) -> str:
        connection = await asyncpg.connect(self.admin_dsn, timeout=10)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.dsn_for(name)
