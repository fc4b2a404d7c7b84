"""The supervisor's fleet: all workers or none."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from acmeca.server.database import StartupError
from acmeca.server.supervisor import Fleet, Worker


class FakeProcess:
    def __init__(self) -> None:
        self.returncode: int | None = None
        self.pid = 4242
        self.signals: list[int] = []

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        self.returncode = -sig

    async def wait(self) -> int:
        assert self.returncode is not None
        return self.returncode


async def test_one_worker_failing_to_start_stops_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[FakeProcess] = []

    async def launch(self: Fleet, worker: Worker) -> None:
        if worker.index == 1:
            raise StartupError("cannot open the database: connection refused")
        process = FakeProcess()
        worker.process = process  # type: ignore[assignment]
        started.append(process)

    monkeypatch.setattr(Fleet, "_launch", launch)
    fleet = Fleet(config=Any, listener=Any, password=None, tls=Any, count=3)  # type: ignore[arg-type]
    with pytest.raises(StartupError, match=r"^cannot open the database: connection refused$"):
        await fleet.start()
    assert len(started) == 2
    assert all(p.signals == [signal.SIGTERM] for p in started)


async def test_a_reload_for_a_worker_still_starting_waits_until_it_is_ready() -> None:
    fleet = Fleet(config=Any, listener=Any, password=None, tls=Any, count=2)  # type: ignore[arg-type]
    ready, starting = fleet._workers
    ready.process, ready.ready = FakeProcess(), True  # type: ignore[assignment]
    starting.process = FakeProcess()  # type: ignore[assignment]
    fleet.forward(signal.SIGHUP)
    assert ready.process.signals == [signal.SIGHUP]  # type: ignore[union-attr]
    assert starting.process.signals == []  # type: ignore[union-attr]
    assert starting.hangup_pending


class FakeStdin:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.lines.append(data)

    async def drain(self) -> None:
        return None


async def test_a_renewed_tls_certificate_goes_to_every_running_worker() -> None:
    import asyncio
    import json

    from acmeca.server.tls_certificate import TLSMaterial

    fleet = Fleet(config=Any, listener=Any, password=None, tls=Any, count=2)  # type: ignore[arg-type]
    for worker in fleet._workers:
        worker.process = FakeProcess()  # type: ignore[assignment]
        worker.process.stdin = FakeStdin()  # type: ignore[attr-defined,union-attr]
    fleet.push_tls(TLSMaterial(chain_pem="CHAIN", key_pem=b"KEY"))
    await asyncio.sleep(0)
    for worker in fleet._workers:
        (line,) = worker.process.stdin.lines  # type: ignore[union-attr]
        assert json.loads(line) == {"kind": "tls", "chain": "CHAIN", "key": "KEY"}


async def test_a_worker_installs_what_the_supervisor_sends_and_stops_when_it_goes(tmp_path: Any) -> None:
    import asyncio
    import json

    from acmeca.server.worker_process import _follow_supervisor

    installed: list[Any] = []

    class Recorder:
        def install(self, material: Any) -> None:
            installed.append(material)

    reader = asyncio.StreamReader()
    reader.feed_data(json.dumps({"kind": "tls", "chain": "CHAIN", "key": "KEY"}).encode() + b"\n")
    reader.feed_eof()
    stop = asyncio.Event()
    await _follow_supervisor(reader, Recorder(), stop)  # type: ignore[arg-type]
    assert [(m.chain_pem, m.key_pem) for m in installed] == [("CHAIN", b"KEY")]
    assert stop.is_set()
