"""What the bench runs, all on loopback: acmeca, Pebble and step-ca, each fresh, plus the shared http-01 responder.

Every CA gets the same treatment: a fresh instance, the project's test DNS server as its resolver (every
``*.bench.test`` name is 127.0.0.1 / ::1), and one http-01 responder listening on both loopback addresses,
so none pays for an IPv6 attempt another skips. A server is described by a ServerSpec; acmeca's spec has
the database, the worker count (``--workers N`` is passed only when N is given) and the lint mode axes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.isolation import require_loopback
from bench.postgres import Cluster, free_port
from bench.sign_flow import Minter

STARTUP_SECONDS = 60.0
PASSWORD = "bench password, loopback only"


class Skipped(Exception):
    """This server cannot run here (a missing binary, flag or config key); the message says why."""


@dataclass(frozen=True)
class ServerSpec:
    kind: str  # "acmeca", "pebble" or "step-ca"
    database: str = "sqlite"  # acmeca: "sqlite" or "postgresql"
    workers: int | None = None  # acmeca: passed as --workers N only when given
    lint: str | None = None  # acmeca: top-level "lint": {"mode": ...} only when given

    @property
    def label(self) -> str:
        if self.kind != "acmeca":
            return self.kind
        parts = ["acmeca", "pg" if self.database == "postgresql" else "sqlite"]
        parts += [f"w{self.workers}"] if self.workers else []
        parts += [f"lint={self.lint}"] if self.lint else []
        return " ".join(parts)


@dataclass(frozen=True)
class Environment:
    """What every server of one run shares."""

    workdir: Path
    dns_address: str  # host:port of the test DNS server
    http_port: int  # where the http-01 responder listens
    step_bin: Path  # directory holding step and step-ca 0.19
    postgres: Callable[[], Awaitable[Cluster]]  # the run's cluster, started on first use


@dataclass
class Running:
    """A started server: where its APIs are, how to trust it, which process tree is it, how to stop it."""

    label: str
    directory: str
    tls: ssl.SSLContext
    pid: int
    stop: Callable[[], None]
    minter: Minter | None = None  # for /1.0/sign, when the server has the token API
    db_pid: int | None = None  # the PostgreSQL cluster's postmaster, when it has one


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
    with suppress(OSError):  # no IPv6 loopback: every CA falls back to IPv4 alike
        await web.TCPSite(runner, "::1", port).start()
    return runner


async def start(spec: ServerSpec, env: Environment, index: int) -> Running:
    home = env.workdir / f"{index:02d}-{spec.label.replace(' ', '-').replace('=', '-')}"
    home.mkdir(parents=True)
    if spec.kind == "pebble":
        return start_pebble(home, env)
    if spec.kind == "step-ca":
        return start_stepca(home, env)
    dsn, db_pid = None, None
    if spec.database == "postgresql":
        cluster = await env.postgres()
        dsn, db_pid = require_loopback(await cluster.create_database(f"bench_{index}")), cluster.pid
    running = start_acmeca(home, env, spec, dsn)
    running.db_pid = db_pid
    return running


def _wait_for(url: str, context: ssl.SSLContext, process: subprocess.Popen[bytes], log: Path) -> None:
    require_loopback(url)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, context=context, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    process.kill()
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


def _password_file(home: Path) -> Path:
    password = home / "password"
    password.write_text(PASSWORD)
    password.chmod(0o600)
    return password


@dataclass(frozen=True)
class AcmecaHome:
    """A CA ``acmeca init`` made for one bench server: its port, environment and files."""

    home: Path
    port: int
    env: dict[str, str]
    password: Path

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "acmeca"]

    @property
    def config_path(self) -> Path:
        return self.home / "config" / "ca.json"


def init_acmeca(home: Path, *, acme: bool = False) -> AcmecaHome:
    """``acmeca init`` (SQLite, a JWK provisioner ``admin``, and ``acme`` when asked) on a free port."""
    home.mkdir(parents=True, exist_ok=True)
    ca = AcmecaHome(home, free_port(), {**{k: v for k, v in os.environ.items() if not k.startswith("ACMECA_")},
                                        "ACMECA_PATH": str(home)}, _password_file(home))
    init = ["init", "--name", "bench", "--dns", "localhost", "--address", f"127.0.0.1:{ca.port}",
            "--provisioner", "admin", "--password-file", str(ca.password), *(["--acme"] if acme else [])]
    subprocess.run([*ca.command, *init], env=ca.env, check=True, capture_output=True, timeout=120)
    return ca


def _minter(config: dict[str, object], port: int, root: Path) -> Minter:
    provisioners = config["authority"]["provisioners"]  # type: ignore[index]
    jwk_provisioner = next(p for p in provisioners if p["type"] == "JWK")
    der = x509.load_pem_x509_certificate(root.read_bytes()).public_bytes(serialization.Encoding.DER)
    return Minter(jwk_provisioner, PASSWORD, f"https://localhost:{port}/1.0/sign", hashlib.sha256(der).hexdigest())


@cache
def acmeca_has_workers_flag() -> bool:
    help_text = subprocess.run([sys.executable, "-m", "acmeca", "serve", "--help"], capture_output=True, text=True)
    return "--workers" in help_text.stdout


def start_acmeca(home: Path, env: Environment, spec: ServerSpec, dsn: str | None) -> Running:
    """``acmeca init --acme`` + ``acmeca serve`` with validation pointed at the test DNS server."""
    serve_flags: list[str] = []
    if spec.workers is not None:
        if acmeca_has_workers_flag():
            serve_flags = ["--workers", str(spec.workers)]
        elif spec.workers != 1:
            raise Skipped("this acmeca has no `serve --workers` yet")
    ca = init_acmeca(home, acme=True)
    password, port, environ, acmeca, config_path = ca.password, ca.port, ca.env, ca.command, ca.config_path
    config = json.loads(config_path.read_text())
    config["validation"] = {"resolver": env.dns_address, "http01Port": env.http_port, "timeout": "10s"}
    if dsn:
        config["db"] = {"type": "postgresql", "dataSource": dsn}
    if spec.lint:
        config["lint"] = {"mode": spec.lint}
    config_path.write_text(json.dumps(config, indent=2))
    if dsn:
        migrate = [*acmeca, "db", "migrate", "--config", str(config_path)]
        subprocess.run(migrate, env=environ, check=True, capture_output=True, timeout=120)
    log = home / "serve.log"
    with log.open("wb") as handle:
        serve = [*acmeca, "serve", "--config", str(config_path), "--password-file", str(password), *serve_flags]
        process = subprocess.Popen(
            serve, env=environ, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    context = ssl.create_default_context(cafile=str(home / "certs" / "root_ca.crt"))
    try:
        _wait_for(f"https://localhost:{port}/acme/acme/directory", context, process, log)
    except RuntimeError:
        text = log.read_text()
        if spec.lint and "lint" in text and "unknown key" in text:
            raise Skipped("this acmeca has no top-level `lint` key yet") from None
        raise
    return Running(spec.label, f"https://localhost:{port}/acme/acme/directory", context, process.pid,
                   _stopper(process), _minter(config, port, home / "certs" / "root_ca.crt"))  # fmt: skip


def start_pebble(home: Path, env: Environment) -> Running:
    """Pebble with ``PEBBLE_VA_NOSLEEP=1`` and ``PEBBLE_WFE_NONCEREJECT=0``, our DNS server as its resolver."""
    if not Path("/usr/bin/pebble").exists():
        raise Skipped("pebble is not installed (apt-get install -y pebble)")
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
            "httpPort": env.http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (home / "config.json").write_text(json.dumps(config))
    environ = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    log = home / "pebble.log"
    command = ["/usr/bin/pebble", "-config", str(home / "config.json"), "-dnsserver", env.dns_address]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, env=environ, stdout=handle, stderr=subprocess.STDOUT, cwd=home)
    context = ssl.create_default_context(cadata=cert.decode())
    _wait_for(f"https://localhost:{port}/dir", context, process, log)
    return Running("pebble", f"https://localhost:{port}/dir", context, process.pid, _stopper(process))


def start_stepca(home: Path, env: Environment) -> Running:
    """step-ca 0.19: ``step ca init`` (JWK provisioner ``admin``), an ACME provisioner, our DNS as --resolver."""
    step, step_ca = env.step_bin / "step", env.step_bin / "step-ca"
    if not (step.exists() and step_ca.exists()):
        raise Skipped(f"no step / step-ca in {env.step_bin} (make step-tools)")
    if env.http_port != 80:
        raise Skipped("step-ca validates http-01 on port 80 only, and :80 is taken here (run in the namespace)")
    password = _password_file(home)
    port = free_port()
    environ = {**os.environ, "STEPPATH": str(home / "step")}
    init = [str(step), "ca", "init", "--name", "bench", "--dns", "localhost", "--address", f"127.0.0.1:{port}",
            "--provisioner", "admin", "--password-file", str(password),
            "--provisioner-password-file", str(password)]  # fmt: skip
    subprocess.run(init, env=environ, check=True, capture_output=True, timeout=120)
    config_path = home / "step" / "config" / "ca.json"
    add = [str(step), "ca", "provisioner", "add", "acme", "--type", "ACME", "--ca-config", str(config_path)]
    subprocess.run(add, env=environ, check=True, capture_output=True, timeout=120)
    log = home / "step-ca.log"
    command = [str(step_ca), str(config_path), "--password-file", str(password), "--resolver", env.dns_address]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, env=environ, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    root = home / "step" / "certs" / "root_ca.crt"
    context = ssl.create_default_context(cafile=str(root))
    _wait_for(f"https://localhost:{port}/acme/acme/directory", context, process, log)
    config = json.loads(config_path.read_text())
    return Running("step-ca", f"https://localhost:{port}/acme/acme/directory", context, process.pid,
                   _stopper(process), _minter(config, port, root))  # fmt: skip


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
