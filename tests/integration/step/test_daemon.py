"""``acmeca renew --daemon`` against a real server: repeated renewals, ``--exec`` each time, across a restart."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from acmeca.crypto import certs
from tests.support.ca_server import CAServer


@pytest.fixture
def daemon_ca(ca_home: CAServer) -> Iterator[CAServer]:
    ca_home.edit_config(lambda d: d["authority"].update(claims={"minTLSCertDuration": "10s"}))
    ca_home.start()
    yield ca_home
    ca_home.stop()


def _wait(condition: Callable[[], bool], timeout: float, what: str, log: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{log()}")


def test_daemon_renews_repeatedly_and_survives_a_ca_restart(daemon_ca: CAServer, tmp_path: Path) -> None:
    crt, key, runs = tmp_path / "d.crt", tmp_path / "d.key", tmp_path / "exec.log"
    daemon_ca.cli("certificate", "daemon.local", str(crt), str(key), "--not-after", "10m",
                  "--provisioner-password-file", str(daemon_ca.password_file))
    first_serial = certs.load_pem_bundle(crt.read_bytes())[0].serial_number
    stderr_path = tmp_path / "daemon.err"
    with stderr_path.open("w") as stderr:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "acmeca", "renew", str(crt), str(key), "--daemon", "--renew-period", "2s",
             "--exec", f"echo renewed >> {runs}"],
            env=daemon_ca.env, stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL,
        )
    def count() -> int:
        return len(runs.read_text().splitlines()) if runs.exists() else 0

    def log() -> str:
        return stderr_path.read_text() + daemon_ca.log()

    try:
        _wait(lambda: count() >= 2, 30, "two renewals", log)
        daemon_ca.stop()
        time.sleep(3)  # the daemon tries while the CA is down and backs off
        before_restart = count()
        daemon_ca.start()
        _wait(lambda: count() >= before_restart + 1, 60, "a renewal after the restart", log)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=15)
    assert code == 0, log()
    text = stderr_path.read_text()
    assert "INFO: first renewal in 2s" in text
    assert "ERROR: renewal failed: cannot connect to the CA" in text
    assert text.count("INFO: certificate renewed: serial") == count()
    chain = certs.load_pem_bundle(crt.read_bytes())
    assert len(chain) == 2
    assert chain[0].serial_number != first_serial
