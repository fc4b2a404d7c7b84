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
