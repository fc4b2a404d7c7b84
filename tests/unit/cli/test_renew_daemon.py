"""The renewal schedule with a frozen clock and seeded jitter; the daemon loop with a fake CA."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acmeca.cli.errors import CLIError
from acmeca.cli.renew_daemon import (
    FIRST_BACKOFF,
    MAX_BACKOFF,
    DaemonOptions,
    RenewDaemon,
    RenewSchedule,
    next_backoff,
)
from acmeca.domain.clock import FrozenClock

ISSUED = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


def certificate(lifetime: timedelta, start: datetime = ISSUED) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "daemon.test")])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + lifetime)
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize("seed", range(20))
def test_renews_at_two_thirds_minus_at_most_a_twentieth(seed: int) -> None:
    leaf = certificate(timedelta(hours=24))
    clock = FrozenClock(ISSUED + timedelta(hours=1))
    delay = RenewSchedule(rng=random.Random(seed)).next_delay(leaf, clock.now())
    renew_at = clock.now() + delay
    two_thirds = ISSUED + timedelta(hours=16)
    assert two_thirds - timedelta(hours=24) / 20 <= renew_at <= two_thirds


def test_jitter_spreads_a_fleet() -> None:
    leaf = certificate(timedelta(hours=24))
    delays = {RenewSchedule(rng=random.Random(seed)).next_delay(leaf, ISSUED) for seed in range(20)}
    assert len(delays) == 20


def test_close_to_the_deadline_the_jitter_shrinks() -> None:
    leaf = certificate(timedelta(hours=24))
    now = ISSUED + timedelta(hours=15, minutes=59)
    for seed in range(20):
        assert RenewSchedule(rng=random.Random(seed)).next_delay(leaf, now) <= timedelta(minutes=1)


@pytest.mark.parametrize("now", [ISSUED + timedelta(hours=17), ISSUED + timedelta(hours=30)])
def test_past_two_thirds_renews_at_once(now: datetime) -> None:
    assert RenewSchedule().next_delay(certificate(timedelta(hours=24)), now) == timedelta(0)


def test_expires_in_replaces_the_third() -> None:
    leaf = certificate(timedelta(hours=24))
    delay = RenewSchedule(expires_in=timedelta(hours=2), rng=random.Random(1)).next_delay(leaf, ISSUED)
    assert timedelta(hours=22) - timedelta(hours=24) / 20 <= delay <= timedelta(hours=22)


def test_fixed_period_until_it_would_outlive_the_certificate() -> None:
    schedule = RenewSchedule(renew_period=timedelta(minutes=10))
    leaf = certificate(timedelta(hours=1))
    assert schedule.next_delay(leaf, ISSUED) == timedelta(minutes=10)
    assert schedule.next_delay(leaf, ISSUED + timedelta(minutes=55)) == timedelta(0)


def test_backoff_doubles_up_to_a_cap() -> None:
    delays: list[timedelta | None] = [None]
    for _ in range(8):
        delays.append(next_backoff(delays[-1]))
    assert delays[1] == FIRST_BACKOFF
    assert delays[2] == FIRST_BACKOFF * 2
    assert delays[-1] == MAX_BACKOFF


class FakeCA:
    """Fails ``failures`` times (CA down), then renews; counts calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.current = [certificate(timedelta(hours=1), datetime.now(UTC))]

    async def renew(self) -> x509.Certificate:
        self.calls += 1
        if self.calls <= self.failures:
            raise CLIError("cannot connect to the CA at https://ca.test: Connection refused")
        self.current = [certificate(timedelta(hours=1), datetime.now(UTC))]
        return self.current[0]


async def _run_until(daemon: RenewDaemon, condition: Callable[[], bool]) -> None:
    """Run the daemon until ``condition`` holds (or 4s pass), then stop it the way an operator does."""
    task = asyncio.ensure_future(daemon.run())
    for _ in range(400):
        await asyncio.sleep(0.01)
        if condition():
            break
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 5) == 0


async def test_retries_while_the_ca_is_down_then_runs_exec(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("acmeca.cli.renew_daemon.FIRST_BACKOFF", timedelta(milliseconds=10))
    ca = FakeCA(failures=2)
    marker = tmp_path / "ran"
    options = DaemonOptions(schedule=RenewSchedule(renew_period=timedelta(milliseconds=20)),
                            exec_command=f"echo renewed >> {marker}")
    await _run_until(RenewDaemon(ca.renew, lambda: ca.current, options),
                     lambda: marker.exists() and len(marker.read_text().splitlines()) >= 2)
    assert len(marker.read_text().splitlines()) >= 2
    log = capsys.readouterr().err
    assert "INFO: first renewal in" in log
    assert log.count("ERROR: renewal failed: cannot connect to the CA") == 2
    assert "INFO: certificate renewed: serial" in log
    assert "INFO: --exec command exited with 0" in log


async def test_sighup_renews_at_once_and_signals_the_pid_file(tmp_path: Path) -> None:
    ca = FakeCA()
    received: list[int] = []
    loop = asyncio.get_running_loop()
    pid_file = tmp_path / "svc.pid"
    pid_file.write_text(str(os.getpid()))
    options = DaemonOptions(schedule=RenewSchedule(renew_period=timedelta(minutes=30)), pid_file=pid_file,
                            signal_number=int(signal.SIGUSR1))
    loop.add_signal_handler(signal.SIGUSR1, lambda: received.append(1))
    try:
        daemon = RenewDaemon(ca.renew, lambda: ca.current, options)
        task = asyncio.ensure_future(daemon.run())
        await asyncio.sleep(0.1)
        assert ca.calls == 0
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if received:
                break
        assert ca.calls == 1
        assert received == [1]
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(task, 5) == 0
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
