"""Real ACME clients (certbot, lego) against a real ``acmeca serve`` over real sockets.

One CA per database backend is started for the whole session (``acmeca init --acme`` then ``acmeca serve``),
with a top-level ``"validation"`` object that points the validators at the test DNS server and moves the
challenge ports to free ports, which the clients bind (certbot ``--http-01-port``, lego ``--http.port`` /
``--tls.port``). Every test name resolves to loopback through that DNS server; dns-01 hooks write their TXT
records into it through its control channel. No traffic leaves the machine: clients are always given the
test DNS server as their resolver where they resolve anything.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from acmeca.cli.devdns.server import DNSServer
from tests.support.ca_server import CAServer, free_port, init_ca
from tests.support.databases import fresh_db_config

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
SQLITE_ONLY = ["sqlite"]
CLIENT_TIMEOUT = 120


@dataclass
class InteropCA:
    """A running CA plus everything a client needs to talk to it."""

    server: CAServer
    dns: DNSServer
    http01_port: int
    tls_alpn01_port: int
    backend: str

    @property
    def directory(self) -> str:
        return f"{self.server.url}/acme/acme/directory"

    @property
    def root_path(self) -> Path:
        return self.server.root_path

    def root(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.root_path.read_bytes())


class CAPool:
    """Lazily starts one CA per backend, shared by every interop test of the session."""

    def __init__(self, directory: Path, dns: DNSServer) -> None:
        self._directory = directory
        self._dns = dns
        self._cas: dict[str, InteropCA] = {}
        self._drops: list[object] = []

    def get(self, backend: str) -> InteropCA:
        if backend not in self._cas:
            self._cas[backend] = self._start(backend)
        return self._cas[backend]

    def _start(self, backend: str) -> InteropCA:
        home = self._directory / backend
        home.mkdir(parents=True, exist_ok=True)
        db, drop = fresh_db_config(backend, home, exclusive=True)
        self._drops.append(drop)
        server = init_ca(home / "ca", db)
        http_port, tls_port = free_port(), free_port()
        validation = {
            "resolver": self._dns.address,
            "http01Port": http_port,
            "tlsAlpn01Port": tls_port,
            "timeout": "10s",
        }
        server.edit_config(lambda document: document.update({"validation": validation}))
        server.start()
        return InteropCA(server, self._dns, http_port, tls_port, backend)

    def close(self) -> None:
        failures = []
        for ca in self._cas.values():
            code = ca.server.stop()
            if code != 0:
                failures.append(f"{ca.backend}: exit {code}\n{ca.server.log()[-4000:]}")
        for drop in self._drops:
            drop()  # type: ignore[operator]
        assert not failures, "acmeca serve did not shut down cleanly:\n" + "\n".join(failures)


@pytest.fixture(scope="session")
def interop_dns() -> Iterator[DNSServer]:
    with DNSServer(control_port=0) as server:
        yield server


@pytest.fixture(scope="session")
def ca_pool(tmp_path_factory: pytest.TempPathFactory, interop_dns: DNSServer) -> Iterator[CAPool]:
    pool = CAPool(tmp_path_factory.mktemp("interop"), interop_dns)
    yield pool
    pool.close()


def client_env(ca: InteropCA, **extra: str) -> dict[str, str]:
    """The environment every client runs in: trusts our root, runs this checkout's ``acmeca`` in its hooks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACMECA_", "REQUESTS_", "LEGO_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["REQUESTS_CA_BUNDLE"] = str(ca.root_path)  # certbot (requests)
    env["LEGO_CA_CERTIFICATES"] = str(ca.root_path)  # lego
    env.update(extra)
    return env


def run_client(args: list[str], env: dict[str, str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{Path(args[0]).name} failed ({result.returncode}):\n{' '.join(args)}\n{result.stdout}\n{result.stderr}"
        )
    return result


def require_binary(name: str) -> str:
    """A client from the running interpreter's environment (certbot) or from PATH (lego, a Debian package)."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (see tests/interop/README.md)")
    return found


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# -- checking what the clients got ----------------------------------------------------------------------
def check_chain(
    fullchain_pem: bytes,
    ca: InteropCA,
    *,
    dns_names: set[str] = frozenset(),  # type: ignore[assignment]
    ips: set[str] = frozenset(),  # type: ignore[assignment]
) -> x509.Certificate:
    """The chain verifies up to our root, is valid now, and the leaf carries exactly the requested names."""
    chain = x509.load_pem_x509_certificates(fullchain_pem)
    assert chain, "no certificate in the client's chain file"
    now = datetime.now(UTC)
    certificates = [*chain, ca.root()]
    for child, parent in itertools.pairwise(certificates):
        child.verify_directly_issued_by(parent)
        assert child.not_valid_before_utc <= now <= child.not_valid_after_utc
    assert chain[-1].issuer == ca.root().subject
    leaf = chain[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {n.lower() for n in san.get_values_for_type(x509.DNSName)} == {n.lower() for n in dns_names}
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {str(ipaddress.ip_address(a)) for a in ips}
    assert not san.get_values_for_type(x509.RFC822Name)
    assert not san.get_values_for_type(x509.UniformResourceIdentifier)
    return leaf
