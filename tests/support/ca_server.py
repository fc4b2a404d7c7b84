"""A real CA for integration tests: ``acmeca init`` in a temporary directory, ``acmeca serve`` as a subprocess.

Tests talk to it over real sockets with real TLS, exactly as clients do. ``edit_config`` lets a test change
ca.json (claims, validation settings, CRL) before the server starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from acmeca.config import parse_database
from acmeca.store import admins, provisioners
from acmeca.store.database import Database, database_settings
from tests.support.databases import fresh_db_config

PASSWORD = "correct horse battery staple"
STARTUP_TIMEOUT = 30.0
HEALTH_POLL_SECONDS = 0.02  # a start takes most of a second; a coarser poll adds its half on average


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(
    *args: str, env: dict[str, str], check: bool = True, timeout: float = 60, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``acmeca`` as a user would: a separate process, its own environment."""
    result = subprocess.run(
        [sys.executable, "-m", "acmeca", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
        stdin=None if input_text is not None else subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"acmeca {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


@dataclass
class CAServer:
    home: Path  # ACMECA_PATH
    port: int
    db: dict[str, Any]
    process: subprocess.Popen[str] | None = None
    serve_args: tuple[str, ...] = ()  # extra `acmeca serve` flags; one worker unless they say --workers
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.home / "serve.log"

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.home / "config" / "ca.json"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def root_path(self) -> Path:
        return self.home / "certs" / "root_ca.crt"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACMECA_")}
        env["ACMECA_PATH"] = str(self.home)
        return env

    def config(self) -> dict[str, Any]:
        return dict(json.loads(self.config_path.read_text()))

    def edit_config(self, change: Callable[[dict[str, Any]], None]) -> None:
        document = self.config()
        change(document)
        self.config_path.write_text(json.dumps(document, indent=2))

    def fingerprint(self) -> str:
        return str(json.loads((self.home / "config" / "defaults.json").read_text())["fingerprint"])

    def cli(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=env or self.env, check=check, timeout=timeout)

    def start(self) -> None:
        handle = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "acmeca",
                "serve",
                "--config",
                str(self.config_path),
                "--password-file",
                str(self.password_file),
                *self.serve_args,
                *(() if "--workers" in self.serve_args else ("--workers", "1")),
            ],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        handle.close()
        self.wait_healthy()

    def wait_healthy(self) -> None:
        context = ssl.create_default_context(cafile=str(self.root_path))
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"acmeca serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", context=context, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(HEALTH_POLL_SECONDS)
        raise AssertionError(f"acmeca serve did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def restart(self) -> None:
        self.stop()
        self.start()


def init_ca(
    home: Path, db: dict[str, Any], *, port: int | None = None, acme: bool = True, extra: tuple[str, ...] = ()
) -> CAServer:
    """``acmeca init`` with a password file, then point ca.json at the test database."""
    home.mkdir(parents=True, exist_ok=True)
    server = CAServer(home=home, port=port or free_port(), db=db)
    fd = os.open(server.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(PASSWORD + "\n")
    args = [
        "init",
        "--name",
        "Test",
        "--dns",
        "localhost",
        "--dns",
        "127.0.0.1",
        "--address",
        f"127.0.0.1:{server.port}",
        "--provisioner",
        "admin",
        "--password-file",
        str(server.password_file),
        *extra,
    ]
    if acme:
        args.append("--acme")
    run_cli(*args, env=server.env)
    server.edit_config(lambda document: document.update({"db": db}))
    if "--remote-management" in extra:
        carry_stored_management(home / "db" / "acmeca.db", db)
    return server


def carry_stored_management(init_database: Path, db: dict[str, Any]) -> None:
    """``init --remote-management`` stores its provisioners and first admin in the SQLite database it creates;
    carry them to the test's database, as an operator moving the CA to another database would."""
    async def carry() -> None:
        source = Database.connect(database_settings(parse_database({"type": "sqlite",
                                                                    "dataSource": str(init_database)})))
        target = Database.connect(database_settings(parse_database(db)))
        try:
            async with source.read() as tx:
                rows, people = await provisioners.live(tx), await admins.live(tx)
            async with target.write() as tx:
                for row in rows:
                    await provisioners.create(tx, row)
                for person in people:
                    await admins.create(tx, person)
        finally:
            await source.close()
            await target.close()

    asyncio.run(carry())


@pytest.fixture
def ca_home(backend: str, tmp_path: Path) -> Iterator[CAServer]:
    """An initialised but not yet started CA on a fresh database of ``backend``."""
    db, drop = fresh_db_config(backend, tmp_path)
    server = init_ca(tmp_path / "ca", db)
    yield server
    server.stop()
    drop()


@pytest.fixture
def ca_server(ca_home: CAServer) -> Iterator[CAServer]:
    """A running CA; stopped (SIGTERM) after the test."""
    ca_home.start()
    yield ca_home
    code = ca_home.stop()
    assert code == 0, f"acmeca serve did not shut down cleanly ({code}):\n{ca_home.log()}"


@pytest.fixture(scope="module")
def shared_ca_server(module_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CAServer]:
    """One running CA per test module and backend, for tests that only read from it."""
    directory = tmp_path_factory.mktemp("shared-ca")
    db, drop = fresh_db_config(module_backend, directory, exclusive=True)
    server = init_ca(directory / "ca", db)
    server.start()
    yield server
    code = server.stop()
    drop()
    assert code == 0, f"acmeca serve did not shut down cleanly ({code}):\n{server.log()}"
