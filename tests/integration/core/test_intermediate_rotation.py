"""``acmeca intermediate rotate`` against a real ``acmeca serve``: rotate, reload, then issue, renew and
verify chains on both sides of the rotation. (tests/integration/core/test_reload.py rotates under
``serve --workers 2`` and checks ACME downloads of a certificate signed before the rotation.)"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509

from acmeca.crypto import certs
from tests.integration.core.test_backup_restore import cli
from tests.support.ca_server import CAServer, init_ca
from tests.support.databases import fresh_db_config
from tests.support.https import call

RELOADED = "configuration reloaded"


@pytest.fixture
def ca_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CAServer:
    """An initialised CA, not started; the CLI runs in this process."""
    db, _ = fresh_db_config("sqlite", tmp_path)
    server = init_ca(tmp_path / "ca", db)
    monkeypatch.setenv("ACMECA_PATH", str(server.home))
    return server


@pytest.fixture
def running(ca_files: CAServer) -> Iterator[CAServer]:
    ca_files.start()
    yield ca_files
    assert ca_files.stop() == 0, ca_files.log()


def _sighup(server: CAServer) -> str:
    assert server.process is not None
    before = len(server.log())
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        tail = server.log()[before:]
        if RELOADED in tail:
            return tail
        time.sleep(0.05)
    raise AssertionError(f"no reload after SIGHUP:\n{server.log()[before:]}")


def _chain(path: Path) -> list[x509.Certificate]:
    return certs.load_pem_bundle(path.read_bytes())


def test_rotate_then_issue_renew_and_verify_chains(running: CAServer, tmp_path: Path) -> None:
    ca, password = running, str(running.password_file)
    home = ca.home
    root = x509.load_pem_x509_certificate(ca.root_path.read_bytes())
    old = x509.load_pem_x509_certificate((home / "certs" / "intermediate_ca.crt").read_bytes())
    before_crt, before_key = tmp_path / "before.crt", tmp_path / "before.key"
    cli("certificate", "before.test", str(before_crt), str(before_key), "--provisioner-password-file", password)
    doomed_crt, doomed_key = tmp_path / "doomed.crt", tmp_path / "doomed.key"
    cli("certificate", "doomed.test", str(doomed_crt), str(doomed_key), "--provisioner-password-file", password)

    out = cli("intermediate", "rotate", "--root-password-file", password, "--not-after", "720h").stdout
    new = x509.load_pem_x509_certificate((home / "certs" / "intermediate_ca.crt").read_bytes())
    kept_crt = home / "certs" / f"intermediate_ca.{old.serial_number:x}.crt"
    kept_key = home / "secrets" / f"intermediate_ca_key.{old.serial_number:x}"
    assert f"Kept the old intermediate as {kept_crt}" in out
    assert f"Kept its key as {kept_key}" in out
    assert "send SIGHUP to every acmeca serve" in out
    assert x509.load_pem_x509_certificate(kept_crt.read_bytes()) == old
    assert oct((home / "secrets" / "intermediate_ca_key").stat().st_mode & 0o777) == "0o600"
    assert oct(kept_key.stat().st_mode & 0o777) == "0o600"
    assert (new.subject, new.public_key().__class__) == (old.subject, old.public_key().__class__)
    assert new.public_key() != old.public_key()
    assert new.not_valid_after_utc - new.not_valid_before_utc == timedelta(hours=720)
    new.verify_directly_issued_by(root)

    assert "intermediate" in _sighup(ca)
    served = x509.load_pem_x509_certificates(call(f"{ca.url}/intermediates.pem", root=ca.root_path).body)
    assert served == [new, old]
    listed = call(f"{ca.url}/intermediates", root=ca.root_path).json()["crts"]
    assert [x509.load_pem_x509_certificate(p.encode()) for p in listed] == [new, old]

    after_crt = tmp_path / "after.crt"
    cli("certificate", "after.test", str(after_crt), str(tmp_path / "after.key"), "--provisioner-password-file",
        password)
    after = _chain(after_crt)
    assert after[1:] == [new]
    after[0].verify_directly_issued_by(new)

    before = _chain(before_crt)
    assert before[1:] == [old]
    before[0].verify_directly_issued_by(old)
    old.verify_directly_issued_by(root)

    cli("renew", str(before_crt), str(before_key), "--force")  # mTLS with the certificate the old one signed
    renewed = _chain(before_crt)
    assert renewed[0].serial_number != before[0].serial_number
    assert renewed[1:] == [new]
    renewed[0].verify_directly_issued_by(new)

    # The old intermediate's certificates can still be revoked, and a revoked one is not renewed.
    cli("revoke", "--cert", str(doomed_crt), "--key", str(doomed_key), "--reason", "rotation test")
    assert "revoked" in cli("renew", str(doomed_crt), str(doomed_key), "--force", code=1).stderr


def test_rotate_refuses_a_wrong_root_password(ca_files: CAServer, tmp_path: Path) -> None:
    crt = ca_files.home / "certs" / "intermediate_ca.crt"
    unchanged = crt.read_bytes()
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    offline = tmp_path / "offline_root_key"
    offline.write_bytes((ca_files.home / "secrets" / "root_ca_key").read_bytes())
    result = cli("intermediate", "rotate", "--root-password-file", str(wrong), "--root-key", str(offline), code=1)
    assert result.stderr.strip() == f"error: the root password does not decrypt {offline}"
    assert crt.read_bytes() == unchanged
