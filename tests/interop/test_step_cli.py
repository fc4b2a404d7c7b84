"""The real step CLI 0.19 against a real ``acmeca serve`` made by ``acmeca init --acme --remote-management``.

The seed flows a step user runs, each checked by its effect: bootstrap, health, root/roots/federation,
provisioner list, token + certificate, the one-step certificate (the encrypted provisioner key decrypts),
``--not-after 5m``, the ACME provisioner through step's own http-01 listener, sign, renew, ``renew --daemon``,
rekey, revoke and the refused renewal after it. One CA and one STEPPATH per module (every decryption of the
provisioner key costs about a second); one flow runs on PostgreSQL too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from tests.support.ca_server import CAServer, free_port, init_ca
from tests.support.databases import fresh_db_config
from tests.support.step_cli import StepCLI, bootstrapped

pytestmark = pytest.mark.interop


@dataclass
class StepEnv:
    server: CAServer
    step: StepCLI
    work: Path
    http01_port: int

    @property
    def password_file(self) -> str:
        return str(self.server.password_file)

    def leaf(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificates((self.work / name).read_bytes())[0]

    def root(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.server.root_path.read_bytes())


def _start(tmp: Path, backend: str) -> tuple[CAServer, int, object]:
    db, drop = fresh_db_config(backend, tmp)
    server = init_ca(tmp / "ca", db, extra=("--remote-management", "--admin-subject", "step"))
    http01_port = free_port()
    server.edit_config(lambda d: d.update({"validation": {"http01Port": http01_port, "timeout": "5s"}}))
    server.start()
    return server, http01_port, drop


def _env(tmp: Path, backend: str) -> Iterator[StepEnv]:
    server, port, drop = _start(tmp, backend)
    try:
        step = bootstrapped(tmp / "step", server.url, server.fingerprint())
        work = tmp / "work"
        work.mkdir()
        yield StepEnv(server, step, work, port)
    finally:
        assert server.stop() == 0, server.log()
        drop()  # type: ignore[operator]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StepEnv]:
    yield from _env(tmp_path_factory.mktemp("step-sqlite"), "sqlite")


def _sans(certificate: x509.Certificate) -> list[str]:
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [*names.get_values_for_type(x509.DNSName), *(str(a) for a in names.get_values_for_type(x509.IPAddress))]


def test_bootstrap_health_and_trust(env: StepEnv) -> None:
    assert env.step.run("ca", "health").stdout.strip() == "ok"
    env.step.run("ca", "root", str(env.work / "root.crt"))
    assert x509.load_pem_x509_certificate((env.work / "root.crt").read_bytes()) == env.root()
    env.step.run("ca", "roots", str(env.work / "roots.pem"))
    assert env.root() in x509.load_pem_x509_certificates((env.work / "roots.pem").read_bytes())
    env.step.run("ca", "federation", str(env.work / "federation.pem"))
    assert env.root() in x509.load_pem_x509_certificates((env.work / "federation.pem").read_bytes())


def test_provisioner_list(env: StepEnv) -> None:
    listed = json.loads(env.step.run("ca", "provisioner", "list").stdout)
    assert {(p["name"], p["type"]) for p in listed} >= {("admin", "JWK"), ("acme", "ACME")}


def test_token_then_certificate_and_the_one_step_certificate(env: StepEnv) -> None:
    token = env.step.run("ca", "token", "--provisioner", "admin", "--provisioner-password-file", env.password_file,
                         "tok.test").stdout.strip()
    env.step.run("ca", "certificate", "--token", token, "tok.test", str(env.work / "tok.crt"),
                 str(env.work / "tok.key"))
    assert _sans(env.leaf("tok.crt")) == ["tok.test"]
    env.step.run("ca", "certificate", "--provisioner", "admin", "--provisioner-password-file", env.password_file,
                 "one.test", str(env.work / "one.crt"), str(env.work / "one.key"))
    leaf = env.leaf("one.crt")
    assert _sans(leaf) == ["one.test"]
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificates((env.work / "one.crt").read_bytes())[1])


def test_not_after_five_minutes_the_default_minimum(env: StepEnv) -> None:
    env.step.run("ca", "certificate", "--provisioner", "admin", "--provisioner-password-file", env.password_file,
                 "--not-after", "5m", "five.test", str(env.work / "five.crt"), str(env.work / "five.key"))
    leaf = env.leaf("five.crt")
    assert leaf.not_valid_after_utc - datetime.now(UTC) < timedelta(minutes=5, seconds=30)


def test_acme_provisioner_through_steps_http_listener(env: StepEnv) -> None:
    env.step.run("ca", "certificate", "--provisioner", "acme", "--http-listen", f"127.0.0.1:{env.http01_port}",
                 "127.0.0.1", str(env.work / "acme.crt"), str(env.work / "acme.key"))
    assert _sans(env.leaf("acme.crt")) == ["127.0.0.1"]


def test_sign_renew_rekey_revoke_and_the_refused_renewal(env: StepEnv) -> None:
    csr, key = env.work / "sign.csr", env.work / "sign.key"
    env.step.run("certificate", "create", "--csr", "--no-password", "--insecure", "sign.test", str(csr), str(key))
    token = env.step.run("ca", "token", "--provisioner", "admin", "--provisioner-password-file", env.password_file,
                         "sign.test").stdout.strip()
    crt = env.work / "sign.crt"
    env.step.run("ca", "sign", "--token", token, str(csr), str(crt))
    first = env.leaf("sign.crt")
    env.step.run("ca", "renew", "--force", str(crt), str(key))
    renewed = env.leaf("sign.crt")
    assert renewed.serial_number != first.serial_number
    assert renewed.public_key() == first.public_key()
    env.step.run("ca", "rekey", "--force", str(crt), str(key))
    rekeyed = env.leaf("sign.crt")
    assert rekeyed.public_key() != renewed.public_key()
    env.step.run("ca", "revoke", "--cert", str(crt), "--key", str(key))
    refused = env.step.run("ca", "renew", "--force", str(crt), str(key), check=False)
    assert refused.returncode != 0
    assert "revoked" in (refused.stdout + refused.stderr).lower()


def test_renew_daemon_renews_twice(env: StepEnv) -> None:
    crt, key = env.work / "daemon.crt", env.work / "daemon.key"
    env.step.run("ca", "certificate", "--provisioner", "admin", "--provisioner-password-file", env.password_file,
                 "daemon.test", str(crt), str(key))
    first = env.leaf("daemon.crt").serial_number
    counter, hook = env.work / "renewals", env.work / "count-renewal.sh"
    hook.write_text(f"#!/bin/sh\necho renewed >> {counter}\n")  # --exec splits on spaces, runs no shell
    hook.chmod(0o755)
    daemon = env.step.popen("ca", "renew", "--daemon", "--renew-period", "1s", "--exec", str(hook), str(crt),
                            str(key), log=env.work / "daemon.log")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_lines(counter)) < 2:
            assert daemon.poll() is None, (env.work / "daemon.log").read_text()
            time.sleep(0.2)
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    assert len(_lines(counter)) >= 2, (env.work / "daemon.log").read_text()
    assert env.leaf("daemon.crt").serial_number != first


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.postgres
def test_one_flow_on_postgresql(tmp_path: Path) -> None:
    for env in _env(tmp_path, "postgresql"):
        token = env.step.run("ca", "token", "--provisioner", "admin", "--provisioner-password-file", env.password_file,
                             "pg.test").stdout.strip()
        crt, key = env.work / "pg.crt", env.work / "pg.key"
        env.step.run("ca", "certificate", "--token", token, "pg.test", str(crt), str(key))
        first = env.leaf("pg.crt").serial_number
        env.step.run("ca", "renew", "--force", str(crt), str(key))
        assert env.leaf("pg.crt").serial_number != first
