"""``acmeca certificate`` as an ACME client, the way ``step ca certificate`` is one with an ACME provisioner.

Against the interop CA (``--provisioner acme``: the CLI finds the provisioner's type through GET /provisioners)
with the standalone responder on the CA's http-01 port and with ``--webroot`` behind a plain file server; and
against Pebble through ``--acme DIRECTORY --root``. Every success is checked the same way: the chain verifies
to the issuing root, the leaf carries exactly the names asked for, both files are 0600 and the key is the
leaf's. Failures are one line on stderr and exit 1.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from acmeca.cli.devdns.server import DNSServer
from tests.interop.conftest import BACKENDS, SQLITE_ONLY, CAPool, InteropCA
from tests.support.ca_server import free_port, run_cli

pytestmark = pytest.mark.interop


def certificate(ca: InteropCA, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return ca.server.cli("certificate", *args, "--provisioner", "acme", check=check)


def check_issued(
    crt: Path, key: Path, root: x509.Certificate, *, dns_names: set[str], ips: set[str]
) -> x509.Certificate:
    """Both files 0600; the chain verifies up to ``root``; the leaf has exactly these names and the key."""
    assert oct(crt.stat().st_mode & 0o777) == "0o600"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    chain = x509.load_pem_x509_certificates(crt.read_bytes())
    assert len(chain) >= 2, "leaf and intermediate expected"
    now = datetime.now(UTC)
    for child, parent in itertools.pairwise([*chain, root]):
        child.verify_directly_issued_by(parent)
        assert child.not_valid_before_utc <= now <= child.not_valid_after_utc
    leaf = chain[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == dns_names
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {str(ipaddress.ip_address(a)) for a in ips}
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert private.public_key() == leaf.public_key()
    return leaf


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """A failed run: exit 1, nothing on stdout, exactly one line on stderr, no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert not result.stdout
    return lines[0]


@pytest.fixture
def file_server(ca_pool: CAPool, tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A plain web server (python -m http.server) on the CA's http-01 port, serving ``www``: the webroot case."""
    www = tmp_path / "www"
    www.mkdir()
    port = ca_pool.get("sqlite").http01_port
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(www), str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the file server did not start"
                time.sleep(0.05)
        yield www, port
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- acmeca with an ACME provisioner ---------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_acme_provisioner_with_the_standalone_responder(ca_pool: CAPool, backend: str, tmp_path: Path) -> None:
    ca = ca_pool.get(backend)
    crt, key = tmp_path / "svc.crt", tmp_path / "svc.key"
    name = f"svc.{backend}.cli.test"
    result = certificate(
        ca, name, str(crt), str(key), "--san", f"www.{name}", "--san", "127.0.0.1",
        "--http-listen", f":{ca.http01_port}", "--contact", "ops@example.test", "--not-after", "2h",
    )
    assert result.stdout.splitlines() == [f"✔ Certificate: {crt}", f"✔ Private Key: {key}"]
    leaf = check_issued(crt, key, ca.root(), dns_names={name, f"www.{name}"}, ips={"127.0.0.1"})
    assert [a.value for a in leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)] == [name]
    assert abs(leaf.not_valid_after_utc - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(minutes=2)
    with pytest.raises(ConnectionRefusedError):  # the responder only listened while the flow ran
        socket.create_connection(("127.0.0.1", ca.http01_port), timeout=1).close()


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_offline_finds_the_acme_provisioner_in_ca_json(ca_pool: CAPool, backend: str, tmp_path: Path) -> None:
    """``--offline`` reads the provisioner's type from ca.json; the ACME flow itself still talks to the CA."""
    ca = ca_pool.get(backend)
    crt, key = tmp_path / "off.crt", tmp_path / "off.key"
    certificate(ca, "127.0.0.1", str(crt), str(key), "--offline", "--ca-config", str(ca.server.config_path),
                "--http-listen", f"127.0.0.1:{ca.http01_port}")
    check_issued(crt, key, ca.root(), dns_names=set(), ips={"127.0.0.1"})


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_acme_provisioner_with_a_webroot(ca_pool: CAPool, backend: str, file_server: tuple[Path, int],
                                         tmp_path: Path) -> None:
    ca = ca_pool.get(backend)
    www, _ = file_server
    crt, key = tmp_path / "ip.crt", tmp_path / "ip.key"
    certificate(ca, "127.0.0.1", str(crt), str(key), "--webroot", str(www), "--kty", "RSA", "--size", "2048")
    leaf = check_issued(crt, key, ca.root(), dns_names=set(), ips={"127.0.0.1"})
    assert leaf.public_key().key_size == 2048  # type: ignore[union-attr]
    assert list((www / ".well-known" / "acme-challenge").iterdir()) == []  # the challenge file is cleaned up


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_a_wrong_answer_is_one_line(ca_pool: CAPool, backend: str, file_server: tuple[Path, int],
                                    tmp_path: Path) -> None:
    """The file server answers 404: the key authorization was written to a directory it does not serve."""
    ca = ca_pool.get(backend)
    _, port = file_server
    crt, key = tmp_path / "x.crt", tmp_path / "x.key"
    result = certificate(ca, "127.0.0.1", str(crt), str(key), "--webroot", str(tmp_path / "elsewhere"), check=False)
    line = refused(result)
    assert line.startswith("error: http-01 for 127.0.0.1 failed: "), line
    assert f"http://127.0.0.1:{port}/.well-known/acme-challenge/" in line, line  # the server's problem detail
    assert not crt.exists()
    assert not key.exists()


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_nothing_listening_is_one_line(ca_pool: CAPool, backend: str, tmp_path: Path) -> None:
    ca = ca_pool.get(backend)
    crt, key = tmp_path / "x.crt", tmp_path / "x.key"
    result = certificate(ca, "127.0.0.1", str(crt), str(key), "--webroot", str(tmp_path / "www"), check=False)
    assert refused(result).startswith("error: http-01 for 127.0.0.1 failed: ")
    assert not crt.exists()
    assert not key.exists()


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_a_busy_listen_address_is_one_line(ca_pool: CAPool, backend: str, tmp_path: Path) -> None:
    ca = ca_pool.get(backend)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        result = certificate(ca, "127.0.0.1", str(tmp_path / "x.crt"), str(tmp_path / "x.key"),
                             "--http-listen", address, check=False)
    assert refused(result).startswith(f"error: cannot listen on {address} for http-01: ")


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_email_sans_are_refused_before_any_order(ca_pool: CAPool, backend: str, tmp_path: Path) -> None:
    ca = ca_pool.get(backend)
    result = certificate(ca, "mail.cli.test", str(tmp_path / "x.crt"), str(tmp_path / "x.key"),
                         "--san", "ops@example.test", check=False)
    assert refused(result) == "error: ACME orders name only DNS names and IP addresses"


# -- Pebble through --acme -------------------------------------------------------------------------------
@dataclass
class Pebble:
    directory: str
    tls_root: Path  # the self-signed certificate Pebble serves its API with
    management: str
    http_port: int

    def issuing_root(self) -> x509.Certificate:
        context = ssl.create_default_context(cafile=str(self.tls_root))
        with urllib.request.urlopen(f"{self.management}/roots/0", context=context, timeout=10) as response:
            return x509.load_pem_x509_certificate(response.read())


def _localhost_certificate() -> tuple[bytes, bytes]:
    """A self-signed ``localhost`` certificate and key for Pebble's API (Debian ships no test certificates)."""
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def _wait_for_pebble(pebble: Pebble, process: subprocess.Popen[bytes], log: Path) -> None:
    context = ssl.create_default_context(cafile=str(pebble.tls_root))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"pebble exited:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(pebble.directory, context=context, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"pebble did not start:\n{log.read_text()}")


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory, interop_dns: DNSServer) -> Iterator[Pebble]:
    """Pebble (Debian's /usr/bin/pebble) on loopback: no validation sleep, no nonce rejection, our DNS server."""
    home = tmp_path_factory.mktemp("pebble")
    cert, private = _localhost_certificate()
    (home / "cert.pem").write_bytes(cert)
    (home / "key.pem").write_bytes(private)
    port, management, http_port = free_port(), free_port(), free_port()
    config = {"pebble": {
        "listenAddress": f"127.0.0.1:{port}", "managementListenAddress": f"127.0.0.1:{management}",
        "certificate": str(home / "cert.pem"), "privateKey": str(home / "key.pem"),
        "httpPort": http_port, "tlsPort": free_port(), "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }}
    (home / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    log = home / "pebble.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            ["pebble", "-config", str(home / "config.json"), "-dnsserver", interop_dns.address],
            env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=home,
        )
    found = Pebble(f"https://localhost:{port}/dir", home / "cert.pem", f"https://localhost:{management}", http_port)
    try:
        _wait_for_pebble(found, process, log)
        yield found
    finally:
        process.terminate()
        process.wait(timeout=10)


def _pebble_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACMECA_")}
    return run_cli("certificate", *args, env=env, check=check)


def test_pebble_through_the_acme_flag(pebble: Pebble, tmp_path: Path) -> None:
    crt, key = tmp_path / "pebble.crt", tmp_path / "pebble.key"
    result = _pebble_cli(
        "cli.pebble.test", str(crt), str(key), "--san", "127.0.0.1",
        "--acme", pebble.directory, "--root", str(pebble.tls_root), "--http-listen", f":{pebble.http_port}",
        "--kty", "EC", "--curve", "P-384",
    )
    assert result.stdout.splitlines() == [f"✔ Certificate: {crt}", f"✔ Private Key: {key}"]
    check_issued(crt, key, pebble.issuing_root(), dns_names={"cli.pebble.test"}, ips={"127.0.0.1"})


def test_pebble_untrusted_without_its_root(pebble: Pebble, tmp_path: Path) -> None:
    result = _pebble_cli("cli.pebble.test", str(tmp_path / "x.crt"), str(tmp_path / "x.key"),
                         "--acme", pebble.directory, "--http-listen", f":{pebble.http_port}", check=False)
    assert refused(result).startswith("error: cannot verify the ACME server at "), result.stderr

