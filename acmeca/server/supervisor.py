"""``acmeca serve --workers N``: one supervisor, N worker processes serving one listening socket.

The supervisor binds the address once (no SO_REUSEPORT, so a second server still gets "address already in
use"), issues the CA's own TLS certificate, and starts each worker as a fresh interpreter
(``python -m acmeca.server.worker_process``) that inherits the socket. Fresh interpreters rather than
``fork``: event loops, asyncpg pools and sqlite3 connections are not fork-safe, so every worker builds its
own service graph from the start. Workers share state only through the database, exactly as replicas do.

The control channel is the worker's stdin and stdout, one JSON object per line. Down the pipe go the
password (never on a command line or in the environment) and each TLS certificate the supervisor issues or
renews; up comes ``ready`` or the one-line reason a worker could not start. A worker stops when its stdin
closes and, on Linux, when the supervisor dies (PR_SET_PDEATHSIG), so ``kill -9`` of the supervisor frees the
port. SIGHUP and SIGTERM sent to the supervisor are forwarded; a worker that dies is logged and restarted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acmeca.config import CAConfig
from acmeca.server.database import StartupError
from acmeca.server.graph import GraphOptions, ServiceGraph, service_graph
from acmeca.server.metrics_endpoint import (
    multiprocess_directory,
    serving_metrics,
    worker_environment,
    worker_exited,
)
from acmeca.server.reload import reload_config
from acmeca.server.run import SHUTDOWN_GRACE_SECONDS, listeners
from acmeca.server.tls_certificate import ServerCertificate, TLSMaterial

log = logging.getLogger(__name__)
WORKER_START_TIMEOUT = 60.0
RESTART_BACKOFF_MIN = 1.0
RESTART_BACKOFF_MAX = 30.0
STABLE_AFTER = 10.0  # a worker that lived this long restarts at once; one that keeps dying backs off


def tls_message(material: TLSMaterial) -> dict[str, Any]:
    return {"kind": "tls", "chain": material.chain_pem, "key": material.key_pem.decode("ascii")}


def start_message(password: bytes | None, material: TLSMaterial) -> dict[str, Any]:
    secret = base64.b64encode(password).decode("ascii") if password is not None else None
    return {**tls_message(material), "kind": "start", "password": secret}


@dataclass
class Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    failures: int = 0
    ready: bool = False  # it ignores SIGHUP until then, so a reload for it waits in ``hangup_pending``
    hangup_pending: bool = False
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


class Fleet:
    """The workers: started together, told of new TLS certificates and signals, restarted when they die."""

    def __init__(
        self, config: CAConfig, listener: socket.socket, password: bytes | None, tls: ServerCertificate, count: int,
        *, metrics_dir: Path | None = None,
    ) -> None:
        self._config = config
        self._metrics_dir = metrics_dir  # the workers' prometheus-client multiprocess directory, if metrics are on
        self._listener = listener
        self._password = password
        self._tls = tls
        self._workers = [Worker(index) for index in range(count)]
        self._stopping = False

    async def start(self) -> None:
        """Every worker ready, or all stopped and the first worker's reason raised as a StartupError."""
        results = await asyncio.gather(*(self._launch(w) for w in self._workers), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.stop()
            first = failures[0]
            raise first if isinstance(first, StartupError) else StartupError(f"a worker failed to start: {first}")
        for worker in self._workers:
            worker.watcher = asyncio.create_task(self._watch(worker), name=f"worker-{worker.index}")
        log.info("workers started", extra={"workers": len(self._workers), "pids": [w.pid for w in self._workers]})

    async def _launch(self, worker: Worker) -> None:
        fd = self._listener.fileno()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "acmeca.server.worker_process", "--config", str(self._config.path),
            "--fd", str(fd), "--index", str(worker.index), "--parent", str(os.getpid()),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, pass_fds=(fd,),
            env=worker_environment(self._metrics_dir),
        )
        worker.process, worker.started_at, worker.ready = process, time.monotonic(), False
        try:
            await self._send(worker, start_message(self._password, self._tls.material()))
            reply = await asyncio.wait_for(_read_message(process), WORKER_START_TIMEOUT)
        except (TimeoutError, ConnectionError) as exc:
            await _terminate(process)
            raise StartupError(f"worker {worker.index} did not start: {type(exc).__name__}") from None
        if reply.get("kind") != "ready":
            await _terminate(process)
            raise StartupError(str(reply.get("message") or f"worker {worker.index} exited before it was ready"))
        worker.ready = True
        if worker.hangup_pending:
            worker.hangup_pending = False
            process.send_signal(signal.SIGHUP)

    async def _watch(self, worker: Worker) -> None:
        """Restart ``worker`` whenever it exits while the fleet is not stopping."""
        while True:
            assert worker.process is not None
            code = await worker.process.wait()
            worker_exited(self._metrics_dir, worker.pid)
            if self._stopping:
                return
            lived = time.monotonic() - worker.started_at
            worker.failures = 0 if lived >= STABLE_AFTER else worker.failures + 1
            delay = 0.0 if worker.failures == 0 else min(
                RESTART_BACKOFF_MAX, RESTART_BACKOFF_MIN * 2 ** (worker.failures - 1)
            )
            log.warning("worker exited; restarting it",
                        extra={"worker": worker.index, "pid": worker.pid, "exit_code": code, "delay_s": delay})
            await asyncio.sleep(delay)
            if self._stopping:
                return
            try:
                await self._launch(worker)
            except StartupError as exc:
                log.error("worker restart failed", extra={"worker": worker.index, "reason": str(exc)})
                worker.started_at = time.monotonic()
                continue
            log.info("worker restarted", extra={"worker": worker.index, "pid": worker.pid})

    def push_tls(self, material: TLSMaterial) -> None:
        """A renewed certificate for every running worker (one that starts later gets it in its start message)."""
        for worker in self._workers:
            asyncio.get_running_loop().create_task(self._send(worker, tls_message(material)))

    def forward(self, sig: signal.Signals) -> None:
        for worker in self._workers:
            if sig == signal.SIGHUP and not worker.ready:
                worker.hangup_pending = True
            elif worker.process is not None and worker.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(sig)

    async def stop(self) -> None:
        """SIGTERM to every worker (each drains its requests), SIGKILL to any still running after the grace."""
        self._stopping = True
        for worker in self._workers:
            if worker.watcher is not None:
                worker.watcher.cancel()
        await asyncio.gather(*(_terminate(w.process) for w in self._workers if w.process is not None))
        for worker in self._workers:
            worker_exited(self._metrics_dir, worker.pid)

    async def _send(self, worker: Worker, message: dict[str, Any]) -> None:
        process = worker.process
        if process is None or process.stdin is None or process.returncode is not None:
            return
        try:
            process.stdin.write(json.dumps(message).encode() + b"\n")
            await process.stdin.drain()
        except (ConnectionError, RuntimeError):
            log.debug("worker control channel closed", extra={"worker": worker.index})


async def _read_message(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        return {}
    try:
        message = json.loads(line)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


async def _terminate(process: asyncio.subprocess.Process | None) -> None:
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), SHUTDOWN_GRACE_SECONDS + 5)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def supervise(
    config: CAConfig,
    password: bytes | None,
    *,
    workers: int,
    migrate: bool | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    with listeners(config) as (listener, metrics_listener):
        # Migrations, the issuers table, imported provisioners and the TLS certificate, once, before any worker.
        options = GraphOptions(background=False)
        async with service_graph(config, password, migrate=migrate, options=options) as graph:
            assert isinstance(graph.tls, ServerCertificate)
            with multiprocess_directory(metrics_listener is not None) as metrics_dir:
                fleet = Fleet(config, listener, password, graph.tls, workers, metrics_dir=metrics_dir)
                async with serving_metrics(graph, metrics_listener, multiprocess_dir=metrics_dir):
                    await _run_fleet(graph, graph.tls, fleet, ready)


async def _run_fleet(
    graph: ServiceGraph, tls: ServerCertificate, fleet: Fleet, ready: Callable[[str], None] | None
) -> None:
    """Start the workers, say ``ready``, keep them until SIGTERM/SIGINT, then stop them."""
    with _signals(graph, fleet) as stop:
        try:
            await _start_unless_stopped(fleet, stop)
            tls.on_issued(fleet.push_tls)
            graph.runtime.spawn("tls-certificate-renewal", tls.renew_forever)
            if ready is not None:
                ready(graph.config.address)
            await stop.wait()
            log.info("shutting down the workers")
        finally:
            await fleet.stop()


async def _start_unless_stopped(fleet: Fleet, stop: asyncio.Event) -> None:
    """Start the fleet; a SIGTERM that arrives meanwhile ends the start-up instead of waiting it out."""
    starting = asyncio.create_task(fleet.start())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return
    starting.result()


@contextlib.contextmanager
def _signals(graph: ServiceGraph, fleet: Fleet) -> Iterator[asyncio.Event]:
    """From before the first worker starts: SIGTERM/SIGINT set the returned event, SIGHUP reloads everyone.

    A SIGHUP during start-up reaches the workers already running; the others read the file as they start.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    async def reload() -> None:
        await reload_config(graph)  # the supervisor's own graph issues the TLS certificate (a new intermediate)

    def hangup() -> None:
        fleet.forward(signal.SIGHUP)
        graph.runtime.spawn_once("reload", reload())

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, hangup)
    try:
        yield stop
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
