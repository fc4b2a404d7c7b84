"""Run one server process: bind, serve, reload on SIGHUP, shut down gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
from collections.abc import Callable

from aiohttp import web

from acmeca.config import CAConfig, parse_address
from acmeca.server.app import build_app
from acmeca.server.services import Services, StartupError, build_services
from acmeca.server.tls_certificate import ServerCertificate

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 10.0

ReloadHook = Callable[[Services], None]


async def serve(
    config: CAConfig,
    password: bytes | None,
    *,
    migrate: bool | None = None,
    on_reload: ReloadHook | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    services = await build_services(config, password, migrate=migrate)
    runner: web.AppRunner | None = None
    listener: socket.socket | None = None
    try:
        listener = bind(config.address)
        tls = ServerCertificate(config, services.engine, services.trust, services.clock)
        await tls.issue()
        services.ssl_context = tls.context
        services.runtime.spawn("tls-certificate-renewal", tls.renew_forever)
        app = build_app(services)
        runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_GRACE_SECONDS, access_log=None)
        await runner.setup()
        await web.SockSite(runner, listener, ssl_context=tls.context).start()
        log.info("serving", extra={"address": config.address, "dns_names": list(config.dns_names)})
        if ready is not None:
            ready(config.address)
        await _wait_for_signals(services, on_reload)
    finally:
        if runner is not None:
            await runner.cleanup()
        if listener is not None:
            listener.close()
        await services.close()


def bind(address: str) -> socket.socket:
    """Bind before doing any work, so an occupied port is reported at once and nothing is issued for it."""
    host, port = parse_address(address)
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


async def _wait_for_signals(services: Services, on_reload: ReloadHook | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if on_reload is not None:
        loop.add_signal_handler(signal.SIGHUP, lambda: on_reload(services))
    try:
        await stop.wait()
        log.info("shutting down")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
