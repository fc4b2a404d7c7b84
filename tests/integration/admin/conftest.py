"""A real CA with remote management on (SQLite and PostgreSQL) and helpers to act as its admins."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from acmeca.cli.admin_credentials import AdminSession
from acmeca.cli.client import CAClient
from acmeca.crypto import certs
from acmeca.crypto.keys import load_private_key
from tests.support.ca_server import CAServer, init_ca
from tests.support.databases import fresh_db_config

SUPER = "ops-admin"


@dataclass
class AdminCA:
    server: CAServer

    def admin_flags(self, subject: str = SUPER) -> tuple[str, ...]:
        return ("--admin-subject", subject, "--admin-provisioner", "admin",
                "--admin-password-file", str(self.server.password_file))

    def cli(self, *args: str, check: bool = True) -> tuple[int, str]:
        result = self.server.cli(*args, check=check)
        return result.returncode, result.stdout + result.stderr

    def admin_cli(self, *args: str, check: bool = True, subject: str = SUPER) -> tuple[int, str]:
        return self.cli(*args, *self.admin_flags(subject), check=check)

    def certificate(self, subject: str, directory: Path) -> tuple[Path, Path]:
        crt, key = directory / f"{subject}.crt", directory / f"{subject}.key"
        self.cli("certificate", subject, str(crt), str(key), "--provisioner", "admin",
                 "--provisioner-password-file", str(self.server.password_file), "--force")
        return crt, key

    def session(self, subject: str, directory: Path) -> AdminSession:
        """An in-process admin client signing with a certificate the CA issued to ``subject``."""
        crt, key = self.certificate(subject, directory)
        chain: list[x509.Certificate] = certs.load_pem_bundle(crt.read_bytes(), source=str(crt))
        context = ssl.create_default_context(cafile=str(self.server.root_path))
        return AdminSession(CAClient(self.server.url, context), chain, load_private_key(key), subject)


def start_admin_ca(home: Path, db: dict[str, object]) -> CAServer:
    server = init_ca(home, db, extra=("--remote-management", "--admin-subject", SUPER))
    server.start()
    return server


@pytest.fixture
def admin_ca(backend: str, tmp_path: Path) -> Iterator[AdminCA]:
    db, drop = fresh_db_config(backend, tmp_path)
    server = start_admin_ca(tmp_path / "ca", db)
    try:
        yield AdminCA(server)
    finally:
        server.stop()
        drop()
