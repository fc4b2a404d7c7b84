"""Run the server: bind, build the service graph, serve, reload on SIGHUP, drain on SIGTERM/SIGINT.

One worker serves in this process; more are run by :mod:`acmeca.server.supervisor`, whose workers come back
here through :func:`serve_graph` with the socket and the TLS context the supervisor gave them.

Connections are accepted by :class:`ConnectionListener` rather than aiohttp's SockSite, so each process
enforces ca.json's ``server`` limits: a cap on open connections and a deadline for each request to arrive
(aiohttp's keep-alive timeout is the idle timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aiohttp import web

from acmeca import metrics
from acmeca.config import CAConfig
from acmeca.domain.addresses import parse_listen_address
from acmeca.server.app import build_app
from acmeca.server.connections import ConnectionListener, protocol_factory
from acmeca.server.database import StartupError
from acmeca.server.file_limit import connection_cap
from acmeca.server.graph import ServiceGraph, service_graph
from acmeca.server.metrics_endpoint import serving_metrics
from acmeca.server.reload import reload_config

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 10.0


async def serve(
    config: CAConfig,
    password: bytes | None,
    *,
    migrate: bool | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    with listeners(config) as (listener, metrics_listener):
        async with service_graph(config, password, migrate=migrate) as graph:
            assert graph.tls is not None
            metrics.WORKERS.set(1)
            async with serving_metrics(graph, metrics_listener):
                await serve_graph(graph, listener, graph.tls.context, ready=ready)


@contextmanager
def listeners(config: CAConfig) -> Iterator[tuple[socket.socket, socket.socket | None]]:
    """Before any other work: an open-file limit for the connection cap, then the HTTPS address and, when ca.json
    asks for one, the metrics address, both bound (and closed on the way out). A supervisor does this once, and
    its workers inherit the limit and the socket."""
    connection_cap(config.server.max_connections, explicit=config.server.max_connections_set)
    with contextlib.ExitStack() as bound:
        listener = bound.enter_context(bind(config.address))
        metrics_listener = bound.enter_context(bind(config.metrics.address)) if config.metrics.enabled else None
        yield listener, metrics_listener


async def serve_graph(
    graph: ServiceGraph,
    listener: socket.socket,
    context: ssl.SSLContext,
    *,
    ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve ``graph`` on a bound socket until SIGTERM/SIGINT (or ``stop``), reloading on SIGHUP."""
    limits = graph.config.server
    cap = connection_cap(limits.max_connections, explicit=limits.max_connections_set)
    runner = web.AppRunner(build_app(graph), shutdown_timeout=SHUTDOWN_GRACE_SECONDS, access_log=None)
    await runner.setup()
    assert runner.server is not None
    connections = ConnectionListener(
        listener, protocol_factory(runner.server, limits), tls=context,
        handshake_timeout=limits.request_timeout.total_seconds(), max_connections=cap,
    )
    try:
        connections.start()
        _log_start(graph, cap)
        await _wait_for_signals(graph, stop or asyncio.Event(), ready=lambda: ready and ready(graph.config.address))
    finally:
        await connections.stop()
        await runner.cleanup()


def freeze_startup_heap() -> None:
    """For a process that serves until it exits (``acmeca serve`` and its workers call it once they serve):
    move everything built so far (modules, the service graph, pkilint's and badkeys' tables) out of the
    collector's sight, since it lives until exit anyway. Each full collection while serving then walks only
    what requests made, and the exit skips a last walk over the whole heap (a third of a second, measured).
    No collection first: it took 80 ms of the start to find a few hundred objects of garbage. Not called by
    :func:`serve_graph` itself, which also runs inside other processes (tests) whose heap is not ours to freeze."""
    gc.freeze()


def _log_start(graph: ServiceGraph, max_connections: int) -> None:
    config = graph.config
    if config.notes.ignored_keys:
        log.warning("ca.json keys acmeca does not use were ignored", extra={"keys": config.notes.ignored_keys})
    if config.notes.inactive_provisioners:
        log.warning("provisioners of types acmeca does not serve are inactive",
                    extra={"provisioners": config.notes.inactive_provisioners})
    log.info("serving", extra={"address": config.address, "dns_names": list(config.dns_names),
                               "max_connections": max_connections})


def bind(address: str) -> socket.socket:
    """Bind before doing any work, so an occupied port is reported at once and nothing is issued for it."""
    host, port = parse_listen_address(address)
    family = socket.AF_INET6 if ":" in host or not host else socket.AF_INET
    try:
        listener = socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        family, listener = socket.AF_INET, socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and not host:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        listener.listen(1024)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"cannot listen on {address}: the address is already in use") from None
        raise StartupError(f"cannot listen on {address}: {exc.strerror}") from None
    listener.setblocking(False)
    return listener


async def _reload(graph: ServiceGraph) -> None:
    await reload_config(graph)


async def _wait_for_signals(graph: ServiceGraph, stop: asyncio.Event, *, ready: Callable[[], object]) -> None:
    """Handle signals, then say ``ready``: a supervisor sends SIGHUP only to a worker that said it."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: graph.runtime.spawn_once("reload", _reload(graph)))
    try:
        ready()
        await stop.wait()
        log.info("shutting down")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
