"""``acmeca serve --workers 2``: one address, two processes that behave as one CA.

One PostgreSQL-backed server serves the module; each request goes over a fresh connection, so the kernel
hands requests to either worker, and the access log's ``worker`` field shows which one answered.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.integration.step.test_wire import csr_pem, mint, sign
from tests.support.acme_client import AccountKey, AcmeClient
from tests.support.ca_server import CAServer, init_ca, run_cli
from tests.support.databases import fresh_db_config

pytestmark = pytest.mark.postgres
WORKERS = ("--workers", "2")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CAServer]:
    directory = tmp_path_factory.mktemp("workers")
    db, drop = fresh_db_config("postgresql", directory, exclusive=True)
    server = init_ca(directory / "ca", db)
    server.serve_args = WORKERS
    server.start()
    wait_for_log(server, "workers started")
    yield server
    server.stop()
    drop()


def wait_for_log(server: CAServer, text: str, *, count: int = 1, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.log()
        if log.count(text) >= count:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged {count} times:\n{server.log()}")


def worker_pids(log: str) -> list[int]:
    """The pids of the last ``workers started`` line."""
    found = re.findall(r"workers started workers=\d+ pids=\[([\d, ]+)\]", log)
    return [int(p) for p in found[-1].split(",")]


def answered_by(log: str, path: str) -> set[str]:
    """Which workers' access lines name ``path``."""
    return set(re.findall(rf"acmeca\.access: request worker=(\d+) .*path={re.escape(path)}", log))


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(condition: object, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
async def fresh_connections(fleet: CAServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A session that opens a new connection for every request, so requests spread over the workers."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": "acmeca-tests"}) as session:
        yield session


@pytest.mark.parametrize("value", ["0", "65"])
def test_a_worker_count_out_of_range_is_one_line(value: str, tmp_path: Path) -> None:
    """(Every refused value is in tests/unit/server/test_workers.py; these two go through the real CLI.)"""
    env = {**os.environ, "ACMECA_PATH": str(tmp_path)}
    result = run_cli("serve", "--workers", value, env=env, check=False)
    assert result.returncode != 0
    assert result.stderr.strip() == f"error: --workers must be from 1 to 64, not {value}"


async def test_nonces_are_shared_by_the_workers(fleet: CAServer, fresh_connections: aiohttp.ClientSession) -> None:
    """Registrations in parallel, each on fresh connections: the kernel gives idle workers the accepts in no
    fair order, so rounds run until both workers took part (bounded); a nonce from one worker is then spent on
    the other, and no registration may be refused for its nonce."""
    import ssl

    tls = ssl.create_default_context(cafile=str(fleet.root_path))
    url = f"{fleet.url}/acme/acme/directory"

    async def register() -> int:
        client = AcmeClient(fresh_connections, url, key=AccountKey.generate(), ssl_context=tls)
        return (await client.register()).status

    for _ in range(10):
        assert await asyncio.gather(*(register() for _ in range(8))) == [201] * 8
        log = fleet.log()
        if answered_by(log, "/acme/acme/new-account") == answered_by(log, "/acme/acme/new-nonce") == {"0", "1"}:
            break
    assert answered_by(log, "/acme/acme/new-account") == {"0", "1"}, "both workers took part"
    assert answered_by(log, "/acme/acme/new-nonce") == {"0", "1"}
    assert not re.search(r"path=/acme/acme/new-account status=400", log), "a nonce was refused"
    client = AcmeClient(fresh_connections, url, key=AccountKey.generate(), ssl_context=tls)
    await client.register()
    nonce = await client.nonce()
    assert (await client.post(client.kid or "", None, retry_bad_nonce=False, nonce_override=nonce)).status == 200
    replay = await client.post(client.kid or "", None, retry_bad_nonce=False, nonce_override=nonce)
    assert (replay.status, replay.problem_type) == (400, "badNonce")


async def test_one_time_tokens_are_spent_once_across_the_workers(fleet: CAServer) -> None:
    """Each token sent twice at once on two connections: exactly one use wins, whichever workers answer."""

    async def twice(index: int) -> list[int]:
        name = f"w{index}.local"
        body = {"csr": csr_pem(name, [name]), "ott": mint(fleet, name)}
        replies = await asyncio.gather(*(asyncio.to_thread(sign, fleet, body) for _ in range(2)))
        return sorted(reply.status for reply in replies)

    for round_ in range(5):
        assert await asyncio.gather(*(twice(round_ * 4 + i) for i in range(4))) == [[201, 401]] * 4
        if answered_by(fleet.log(), "/1.0/sign") == {"0", "1"}:
            break
    assert answered_by(fleet.log(), "/1.0/sign") == {"0", "1"}


def test_a_second_server_on_the_address_is_refused(fleet: CAServer) -> None:
    result = fleet.cli("serve", "--config", str(fleet.config_path), "--password-file", str(fleet.password_file),
                       *WORKERS, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: cannot listen on 127.0.0.1:{fleet.port}: the address is already in use"


def test_a_killed_worker_is_restarted(fleet: CAServer) -> None:
    before = worker_pids(fleet.log())
    os.kill(before[0], signal.SIGKILL)
    log = wait_for_log(fleet, "worker restarted")
    assert re.search(rf"worker exited; restarting it worker=0 pid={before[0]} exit_code=-9", log)
    restarted = int(re.findall(r"worker restarted worker=0 pid=(\d+)", log)[-1])
    assert restarted not in before
    for _ in range(6):
        body = {"csr": csr_pem("after.local", ["after.local"]), "ott": mint(fleet, "after.local")}
        assert sign(fleet, body).status == 201


def test_sigterm_stops_every_worker_and_frees_the_port(fleet: CAServer) -> None:
    """Last in this module: it stops the module's server."""
    pids = worker_pids(fleet.log())
    restarted = [int(p) for p in re.findall(r"worker restarted worker=\d+ pid=(\d+)", fleet.log())]
    assert fleet.stop() == 0
    log = fleet.log()
    assert log.count("acmeca.server.run: shutting down worker=") == 2
    for pid in {*pids, *restarted}:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert port_is_free(fleet.port)


def test_kill_9_of_the_supervisor_frees_the_port(tmp_path: Path) -> None:
    db, _drop = fresh_db_config("sqlite", tmp_path)
    server = init_ca(tmp_path / "ca", db)
    server.serve_args = WORKERS
    server.start()
    pids = worker_pids(wait_for_log(server, "workers started"))
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    assert wait_until(lambda: port_is_free(server.port)), "the workers still hold the port"
    assert wait_until(lambda: not any(_alive(pid) for pid in pids)), "the workers outlived their supervisor"
    server.process = None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_wrong_password_stops_the_fleet_before_it_starts(tmp_path: Path) -> None:
    db, _drop = fresh_db_config("sqlite", tmp_path)
    server = init_ca(tmp_path / "ca", db)
    (tmp_path / "wrong").write_text("not the password\n")
    result = server.cli("serve", "--password-file", str(tmp_path / "wrong"), *WORKERS, check=False)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "password" in result.stderr
    assert subprocess.run(["pgrep", "-f", f"acmeca.server.worker_process --config {server.config_path}"],
                          capture_output=True).returncode == 1
