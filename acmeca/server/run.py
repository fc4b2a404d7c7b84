"""Run one server process: bind, serve, reload on SIGHUP, shut down gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from acmeca.config import CAConfig
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
    try:
        tls = ServerCertificate(config, services.engine, services.trust, services.clock)
        await tls.issue()
        services.ssl_context = tls.context
        services.runtime.spawn("tls-certificate-renewal", tls.renew_forever)
        app = build_app(services)
        runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_GRACE_SECONDS, access_log=None)
        await runner.setup()
        host, port = config.host_port
        site = web.TCPSite(runner, host or None, port, ssl_context=tls.context, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"cannot listen on {config.address}: the address is already in use") from None
            raise StartupError(f"cannot listen on {config.address}: {exc.strerror}") from None
        log.info("serving", extra={"address": config.address, "dns_names": list(config.dns_names)})
        if ready is not None:
            ready(config.address)
        await _wait_for_signals(services, on_reload)
    finally:
        if runner is not None:
            await runner.cleanup()
        await services.close()


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
