"""What the load generator runs against, all on loopback: acmeca, Pebble, an http-01 responder, test DNS.

Both CAs get the same treatment: a fresh instance, the project's test DNS server as their resolver (every
name is 127.0.0.1 / ::1), and one shared http-01 responder listening on both loopback addresses, so neither
pays for an IPv6 attempt the other skips.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

STARTUP_SECONDS = 60.0
PASSWORD = "bench password, loopback only"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Target:
    """A running ACME server: its directory URL, how to trust it, how to stop it."""

    name: str
    directory: str
    tls: ssl.SSLContext
    stop: Callable[[], None]


async def start_responder(tokens: dict[str, str], port: int) -> web.AppRunner:
    """Serve ``/.well-known/acme-challenge/<token>`` from ``tokens`` on 127.0.0.1 and ::1."""

    async def answer(request: web.Request) -> web.Response:
        value = tokens.get(request.match_info["token"])
        return web.Response(text=value) if value else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/.well-known/acme-challenge/{token}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    with suppress(OSError):  # no IPv6 loopback: both CAs fall back to IPv4 alike
        await web.TCPSite(runner, "::1", port).start()
    return runner


def _wait_for(url: str, context: ssl.SSLContext, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, context=context, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {STARTUP_SECONDS:.0f}s:\n{log.read_text()[-3000:]}")


def _stopper(process: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    return stop


def start_acmeca(workdir: Path, dns_address: str, http_port: int, postgres_dsn: str | None = None) -> Target:
    """``acmeca init --acme`` + ``acmeca serve`` with validation pointed at the test DNS server."""
    home = workdir / "acmeca"
    home.mkdir(parents=True)
    password = home / "password"
    password.write_text(PASSWORD)
    password.chmod(0o600)
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ACMECA_")}, "ACMECA_PATH": str(home)}
    acmeca = [sys.executable, "-m", "acmeca"]
    init = ["init", "--name", "bench", "--dns", "localhost", "--address", f"127.0.0.1:{port}",
            "--provisioner", "admin", "--password-file", str(password), "--acme"]  # fmt: skip
    subprocess.run([*acmeca, *init], env=env, check=True, capture_output=True, timeout=120)
    config_path = home / "config" / "ca.json"
    config = json.loads(config_path.read_text())
    config["validation"] = {"resolver": dns_address, "http01Port": http_port, "timeout": "10s"}
    if postgres_dsn:
        config["db"] = {"type": "postgresql", "dataSource": postgres_dsn}
    config_path.write_text(json.dumps(config, indent=2))
    if postgres_dsn:
        migrate = [*acmeca, "db", "migrate", "--config", str(config_path)]
        subprocess.run(migrate, env=env, check=True, capture_output=True, timeout=120)
    log = home / "serve.log"
    with log.open("wb") as handle:
        serve = [*acmeca, "serve", "--config", str(config_path), "--password-file", str(password)]
        process = subprocess.Popen(serve, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    context = ssl.create_default_context(cafile=str(home / "certs" / "root_ca.crt"))
    _wait_for(f"https://localhost:{port}/acme/acme/directory", context, process, log)
    return Target("acmeca", f"https://localhost:{port}/acme/acme/directory", context, _stopper(process))


def start_pebble(workdir: Path, dns_address: str, http_port: int) -> Target:
    """Pebble with ``PEBBLE_VA_NOSLEEP=1`` and ``PEBBLE_WFE_NONCEREJECT=0``, our DNS server as its resolver."""
    home = workdir / "pebble"
    home.mkdir(parents=True)
    cert, key = _localhost_certificate()
    (home / "cert.pem").write_bytes(cert)
    (home / "key.pem").write_bytes(key)
    port = free_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{free_port()}",
            "certificate": str(home / "cert.pem"),
            "privateKey": str(home / "key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (home / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    log = home / "pebble.log"
    command = ["pebble", "-config", str(home / "config.json"), "-dnsserver", dns_address]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=home)
    context = ssl.create_default_context(cadata=cert.decode())
    _wait_for(f"https://localhost:{port}/dir", context, process, log)
    return Target("pebble", f"https://localhost:{port}/dir", context, _stopper(process))


def _localhost_certificate() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem
