"""An in-process CA built by the production composition root, served on a real TLS socket.

Tests that need to reach inside the server (a frozen clock, a stub validator, direct database access) use
this instead of a subprocess. The CA home is laid out as ``acmeca init`` lays it out (encrypted keys and
all), ca.json goes through the production loader, and the service graph comes from
:func:`acmeca.server.graph.service_graph` with test options; only the validator may be replaced.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acmeca.config import load_config
from acmeca.crypto import certs
from acmeca.crypto.keys import KeySpec, generate_key, save_private_key
from acmeca.engine.pki import CACertificates, create_ca_certificates
from acmeca.server.app import build_app
from acmeca.server.graph import GraphOptions, ServiceGraph, service_graph

PASSWORD = b"in-process-test-password"


@dataclass(frozen=True)
class CAHome:
    home: Path
    pki: CACertificates

    @property
    def config_path(self) -> Path:
        return self.home / "config" / "ca.json"

    def document(self) -> dict[str, Any]:
        return dict(json.loads(self.config_path.read_text()))

    def edit(self, change: dict[str, Any]) -> None:
        document = self.document()
        document.update(change)
        self.config_path.write_text(json.dumps(document, indent=2))


def write_ca(home: Path, db: dict[str, Any], *, name: str = "Test", now: datetime | None = None,
             **document: Any) -> CAHome:
    """A CA home as ``acmeca init`` writes it: certs/, secrets/ (keys encrypted with PASSWORD), config/ca.json."""
    now = now or datetime.now(UTC)
    root_key, intermediate_key = generate_key(KeySpec()), generate_key(KeySpec())
    pki = create_ca_certificates(name, root_key, intermediate_key, now=now - timedelta(days=1))
    for folder in ("certs", "secrets", "config"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    (home / "certs" / "root_ca.crt").write_text(certs.to_pem(pki.root))
    (home / "certs" / "intermediate_ca.crt").write_text(certs.to_pem(pki.intermediate))
    save_private_key(home / "secrets" / "root_ca_key", root_key, PASSWORD)
    save_private_key(home / "secrets" / "intermediate_ca_key", intermediate_key, PASSWORD)
    ca_json = {
        "root": "certs/root_ca.crt", "crt": "certs/intermediate_ca.crt", "key": "secrets/intermediate_ca_key",
        "address": "127.0.0.1:443", "dnsNames": ["localhost", "127.0.0.1"], "db": db, **document,
    }
    (home / "config" / "ca.json").write_text(json.dumps(ca_json, indent=2))
    return CAHome(home, pki)


def throwaway_tls_context(directory: Path) -> ssl.SSLContext:
    """A throw-away server certificate: the CA's own TLS certificate would add a row to the certificates table."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    return context


@dataclass(frozen=True)
class Served:
    graph: ServiceGraph
    base: str  # https://127.0.0.1:PORT


@asynccontextmanager
async def serve_in_process(ca: CAHome, aiohttp_server: Any, options: GraphOptions) -> AsyncIterator[Served]:
    """The production graph and application for ``ca``, on a real TLS socket, closed on the way out."""
    config = load_config(ca.config_path)
    async with service_graph(config, PASSWORD, options=options) as graph:
        server = await aiohttp_server(build_app(graph), ssl=throwaway_tls_context(ca.home / "tls"))
        try:
            yield Served(graph=graph, base=f"https://127.0.0.1:{server.port}")
        finally:
            await server.close()
