"""The collector freeze (``freeze_startup_heap``): done by the processes that serve until they exit, never by
``serve`` run inside another program's process."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from pathlib import Path

import pytest

from acmeca.config import load_config
from acmeca.server import worker_process
from acmeca.server.run import serve
from tests.support.ca_server import free_port
from tests.support.databases import fresh_db_config
from tests.support.inprocess import PASSWORD, CAHome, write_ca


@pytest.fixture
def ca(tmp_path: Path) -> CAHome:
    db, _drop = fresh_db_config("sqlite", tmp_path)
    return write_ca(tmp_path / "ca", db, address=f"127.0.0.1:{free_port()}")


async def test_serve_inside_another_process_leaves_its_collector_alone(ca: CAHome) -> None:
    frozen_before = gc.get_freeze_count()
    ready = asyncio.Event()
    server = asyncio.create_task(serve(load_config(ca.config_path), PASSWORD, ready=lambda _address: ready.set()))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        assert gc.get_freeze_count() == frozen_before
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)


def test_acmeca_serve_freezes_once_it_serves(ca: CAHome, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_bytes(PASSWORD)
    # The real command, in its own interpreter; the freeze is swapped for a marker that also stops the server.
    probe = (
        "import os, signal, sys\n"
        "from acmeca.cli.commands import serve\n"
        "def frozen():\n"
        "    print('frozen', flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "serve.freeze_startup_heap = frozen\n"
        "from acmeca.cli.main import main\n"
        f"sys.exit(main(['serve', '--config', {str(ca.config_path)!r}, '--password-file', {str(password)!r}, "
        "'--workers', '1']))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "frozen"


def test_a_worker_freezes_before_it_reports_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(worker_process, "freeze_startup_heap", lambda: calls.append("freeze"))
    monkeypatch.setattr(worker_process, "_reply", lambda message: calls.append(message["kind"]))
    worker_process._serving("127.0.0.1:443")
    assert calls == ["freeze", "ready"]
