"""The CLI as a user runs it: init, serve, db migrate, bootstrap, health, root, roots, federation."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from acmeca.crypto.jose import decrypt_private_jwk
from acmeca.crypto.keys import load_private_key
from tests.support.ca_server import PASSWORD, CAServer, free_port, init_ca, run_cli
from tests.support.databases import fresh_db_config


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACMECA_")}
    env["ACMECA_PATH"] = str(home)
    return env


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_init_writes_step_layout_with_private_files(tmp_path: Path) -> None:
    home = tmp_path / "ca"
    password_file = tmp_path / "pw"
    password_file.write_text("s3cret \n\n")  # trailing whitespace is not part of the password
    result = run_cli("init", "--name", "Acme Corp", "--dns", "ca.internal", "--dns", "10.0.0.1",
                     "--address", ":8443", "--provisioner", "ops@example.com", "--password-file",
                     str(password_file), "--acme", env=_env(home))
    for line in ("Generating root certificate... done!", "Generating intermediate certificate... done!",
                 "✔ Root certificate:", "✔ Root fingerprint:", "✔ Database folder:",
                 "✔ Certificate Authority configuration:"):
        assert line in result.stdout
    for secret in ("secrets/root_ca_key", "secrets/intermediate_ca_key", "config/ca.json"):
        assert stat.S_IMODE((home / secret).stat().st_mode) == 0o600, secret
    assert stat.S_IMODE((home / "db").stat().st_mode) == 0o700
    assert load_private_key(home / "secrets/intermediate_ca_key", b"s3cret") is not None
    root = x509.load_pem_x509_certificate((home / "certs/root_ca.crt").read_bytes())
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Acme Corp Root CA"
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    intermediate = x509.load_pem_x509_certificate((home / "certs/intermediate_ca.crt").read_bytes())
    assert intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    document = json.loads((home / "config/ca.json").read_text())
    assert document["dnsNames"] == ["ca.internal", "10.0.0.1"]
    assert document["crl"] == {"enabled": True, "generateOnRevoke": True}
    assert document["db"] == {"type": "sqlite", "dataSource": str(home / "db" / "acmeca.db")}
    jwk, acme = document["authority"]["provisioners"]
    assert (jwk["type"], jwk["name"], acme) == ("JWK", "ops@example.com", {"type": "ACME", "name": "acme"})
    assert decrypt_private_jwk(jwk["encryptedKey"], b"s3cret")["kid"] == jwk["key"]["kid"]
    defaults = json.loads((home / "config/defaults.json").read_text())
    assert defaults["ca-url"] == "https://ca.internal:8443"
    assert defaults["fingerprint"] in result.stdout


@pytest.mark.parametrize(("kty", "extra"), [("RSA", ["--size", "2048"]), ("OKP", [])])
def test_init_key_types(tmp_path: Path, kty: str, extra: list[str]) -> None:
    (tmp_path / "pw").write_text("pw")
    run_cli("init", "--name", "K", "--dns", "localhost", "--address", ":9000", "--provisioner", "p",
            "--password-file", str(tmp_path / "pw"), "--kty", kty, *extra, env=_env(tmp_path / "ca"))
    root = x509.load_pem_x509_certificate((tmp_path / "ca/certs/root_ca.crt").read_bytes())
    assert type(root.public_key()).__name__.startswith({"RSA": "RSA", "OKP": "Ed25519"}[kty])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "X"], "missing --dns, --address, --provisioner"),
        (["--name", "X", "--dns", "a", "--address", "nope", "--provisioner", "p"], "must be host:port"),
        (["--name", "X", "--dns", "a", "--address", ":1", "--provisioner", "p", "--kty", "DSA"],
         "unsupported key type"),
        (["--name", "X", "--dns", "a", "--address", ":1", "--provisioner", "p"], "missing --password-file"),
    ],
)
def test_init_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("init", *args, env=_env(tmp_path / "ca"), check=False)
    assert message in _one_line_error(result)
    assert not (tmp_path / "ca" / "config" / "ca.json").exists()


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    db, _ = fresh_db_config("sqlite", tmp_path)
    ca = init_ca(tmp_path / "ca", db)
    args = ["init", "--name", "X", "--dns", "a", "--address", ":1", "--provisioner", "p",
            "--password-file", str(ca.password_file)]
    before = ca.config_path.read_bytes()
    assert "already exists" in _one_line_error(run_cli(*args, env=ca.env, check=False))
    assert ca.config_path.read_bytes() == before
    run_cli(*args, "--force", env=ca.env)
    assert ca.config_path.read_bytes() != before


def test_client_commands_against_a_running_ca(ca_server: CAServer, tmp_path: Path) -> None:
    client_env = _env(tmp_path / "client")
    fingerprint = ca_server.fingerprint()
    wrong = run_cli("bootstrap", "--ca-url", ca_server.url, "--fingerprint", "ab" * 32, env=client_env, check=False)
    assert "not found" in _one_line_error(wrong) or "does not match" in _one_line_error(wrong)
    out = run_cli("bootstrap", "--ca-url", ca_server.url, "--fingerprint", fingerprint, env=client_env).stdout
    assert "The root certificate has been saved in" in out
    assert "The authority configuration has been saved in" in out
    assert run_cli("health", env=client_env).stdout == "ok\n"
    root_pem = ca_server.root_path.read_text()
    assert run_cli("roots", env=client_env).stdout == root_pem
    assert run_cli("federation", env=client_env).stdout == root_pem
    saved = tmp_path / "root.crt"
    out = run_cli("root", str(saved), "--ca-url", ca_server.url, "--fingerprint", fingerprint, env=client_env).stdout
    assert out == f"The root certificate has been saved in {saved}.\n"
    assert saved.read_text() == root_pem
    assert "already exists" in _one_line_error(
        run_cli("root", str(saved), "--ca-url", ca_server.url, "--fingerprint", fingerprint, env=client_env,
                check=False))


def test_client_errors_are_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path / "nowhere")
    port = free_port()
    assert "missing --ca-url" in _one_line_error(run_cli("health", env=env, check=False))
    unreachable = run_cli("bootstrap", "--ca-url", f"https://127.0.0.1:{port}", "--fingerprint", "a" * 64,
                          env=env, check=False)
    assert "cannot connect" in _one_line_error(unreachable)
    assert "not a hex SHA-256" in _one_line_error(
        run_cli("bootstrap", "--ca-url", "https://x", "--fingerprint", "xyz", env=env, check=False))


def _serve(ca: CAServer, *extra: str, password_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acmeca", "serve", "--config", str(ca.config_path), "--password-file",
         str(password_file or ca.password_file), *extra],
        env=ca.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )


def test_serve_startup_errors_are_one_line(tmp_path: Path) -> None:
    db, _ = fresh_db_config("sqlite", tmp_path)
    ca = init_ca(tmp_path / "ca", db)
    bad_password = tmp_path / "bad"
    bad_password.write_text("nope")
    assert "wrong password" in _one_line_error(_serve(ca, password_file=bad_password))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ca.port))
        busy.listen()
        assert "already in use" in _one_line_error(_serve(ca))
    ca.config_path.write_text("{ not json")
    assert "is not valid JSON" in _one_line_error(_serve(ca))
    ca.config_path.unlink()
    assert "does not exist" in _one_line_error(_serve(ca))


@pytest.mark.postgres
def test_postgres_schema_must_be_migrated_explicitly(tmp_path: Path) -> None:
    import asyncio
    import secrets

    from tests.support.postgres import create_database, drop_database, postgres_server

    server = postgres_server()
    name = f"acmeca_test_{secrets.token_hex(6)}"
    dsn = asyncio.run(create_database(server, name))
    try:
        ca = init_ca(tmp_path / "ca", {"type": "postgresql", "dataSource": dsn})
        assert "run 'acmeca db migrate'" in _one_line_error(_serve(ca))
        out = run_cli("db", "migrate", "--config", str(ca.config_path), env=ca.env).stdout
        assert out.startswith("Migrated the database schema from empty to ")
        assert "up to date" in run_cli("db", "migrate", "--config", str(ca.config_path), env=ca.env).stdout
        ca.start()
        assert ca.stop() == 0
    finally:
        asyncio.run(drop_database(server, name))


def test_password_is_never_in_ca_json(ca_home: CAServer) -> None:
    assert PASSWORD not in ca_home.config_path.read_text()


def _read_until(controller: int, marker: bytes, seen: bytearray, timeout: float = 30) -> None:
    import select
    import time

    deadline = time.monotonic() + timeout
    while marker not in seen:
        ready, _, _ = select.select([controller], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} in {seen.decode(errors='replace')!r}")
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            return
        if not chunk:
            return
        seen.extend(chunk)


def test_init_prompts_with_defaults_in_a_terminal(tmp_path: Path) -> None:
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "acmeca", "init"], stdin=terminal, stdout=terminal, stderr=terminal,
        env=_env(tmp_path / "ca"), start_new_session=True,  # no controlling tty: getpass reads the pty too
    )
    os.close(terminal)
    seen = bytearray()
    try:
        for marker, answer in ((b"new PKI?", b"Prompted Co"), (b"[localhost]:", b""), (b"[:443]:", b"127.0.0.1:9999"),
                               (b"[admin]:", b""), (b"generate one]:", b"")):
            _read_until(controller, marker, seen)
            os.write(controller, answer + b"\n")
        _read_until(controller, b"Your PKI is ready", seen)
        assert process.wait(timeout=60) == 0, seen.decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    text = seen.decode()
    assert "✔ Password: " in text  # left empty: one was generated and shown once
    document = json.loads((tmp_path / "ca/config/ca.json").read_text())
    assert document["dnsNames"] == ["localhost"]
    assert document["address"] == "127.0.0.1:9999"
    assert document["authority"]["provisioners"][0]["name"] == "admin"
