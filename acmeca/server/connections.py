"""Connection limits of one server process: a deadline for each request to arrive, and a cap on connections.

aiohttp already closes a connection that idles between requests (its ``keepalive_timeout``, our
``server.idleTimeout``), but nothing bounds how long a request may take to *arrive*: a client that trickles
its headers or body a byte at a time, or that opens a connection and never sends, holds a file descriptor,
TLS buffers and a handler for as long as it likes. And asyncio's own server accepts every connection the
kernel offers, so enough of them exhaust the process's file descriptors and memory.

Here, with aiohttp's and asyncio's public hooks only (a RequestHandler subclass, a middleware, and an accept
loop over ``loop.connect_accepted_socket``):

* :class:`DeadlineRequestHandler` gives every request ``server.requestTimeout`` to arrive in full, from its
  first byte (a new connection's first request from the moment it was accepted, TLS handshake included).
* :func:`receive_deadline` is the middleware that tells the handler when a request's headers are in, so the
  deadline can follow its body and end when the body is complete.
* :class:`ConnectionListener` accepts at most ``server.maxConnections`` connections at a time; at the cap it
  stops accepting, so newcomers wait in the kernel's listen queue instead of costing memory here.

All of it is per process state, so each worker of a multi-process server enforces its own limits.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.streams import StreamReader

from acmeca.config import ServerSettings
from acmeca.domain.durations import format_duration
from acmeca.domain.errors import RequestTimeout
from acmeca.server.memory import MemoryReturner

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Release = Callable[[], None]

# What a client whose headers are late reads before the close; no handler has run, so it is written raw.
TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
CAP_LOG_INTERVAL = 60.0  # seconds between "connection cap reached" lines while the cap keeps being reached
ACCEPT_RETRY_DELAY = 1.0  # out of file descriptors: pause accepting, as asyncio's own server does


class DeadlineRequestHandler(web.RequestHandler):
    """aiohttp's per-connection protocol, plus a deadline for receiving each request in full.

    The deadline is armed when the connection is accepted and at the first byte of each later request, and
    disarmed when the request's body has been received. When it passes, what the client gets depends on how
    far it got: nothing sent yet, a close; partial headers, a raw 408 and a close (no handler has run);
    headers in but the body late, the handler's read fails with :class:`RequestTimeout`, which the front
    end renders as its own 408, and the connection closes after that answer.
    """

    __slots__ = ("_body", "_deadline", "_handling", "_opened_at", "_partial", "_release", "_request_timeout")

    def __init__(
        self, manager: web.Server, *, request_timeout: float, opened_at: float, release: Release, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._request_timeout = request_timeout
        self._release = release
        self._body: StreamReader | None = None  # the body still arriving, once the headers are in
        self._handling = False  # a handler runs (its body may still be arriving)
        self._partial = False  # bytes of the request being received have arrived
        self._opened_at = opened_at
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called once the TLS handshake is done (asyncio's handshake timeout bounds that part); the first
        # request's deadline still counts from the accept.
        super().connection_made(transport)
        self._deadline = asyncio.get_running_loop().call_at(self._opened_at + self._request_timeout, self._expire)

    def data_received(self, data: bytes) -> None:
        # Bytes arriving while a handler runs belong to its body or to a pipelined request; the latter
        # waits for aiohttp's idle timer, armed after the answer.
        if data and not self._handling:
            if self._deadline is None:
                self._deadline = asyncio.get_running_loop().call_later(self._request_timeout, self._expire)
            self._partial = True
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._body = None
        super().connection_lost(exc)
        self._release()

    def request_started(self, body: StreamReader) -> None:
        """The headers are in: the deadline now waits for ``body`` (at once, when there is none)."""
        self._handling = True
        self._body = body
        body.on_eof(self._request_received)

    def request_finished(self) -> None:
        self._handling = False

    def _request_received(self) -> None:
        self._disarm()
        self._body = None
        self._partial = False

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        late = format_duration(timedelta(seconds=self._request_timeout))
        body = self._body
        if body is not None and self._handling:
            self.close()  # read nothing more, and close once the handler has answered
            body.set_exception(RequestTimeout(f"the request body did not arrive within {late}"))
            body.feed_eof()  # so aiohttp does not linger reading a body that will not come
            return
        if body is None and self._partial and self.transport is not None:
            self.transport.write(TIMEOUT_RESPONSE)
        log.debug("request not received in time; closing the connection",
                  extra={"peer": self.peername, "timeout": late})
        self.force_close()


@web.middleware
async def receive_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hand the request's body to its connection's deadline (a no-op under aiohttp's own protocol, in tests)."""
    protocol = request.protocol
    if not isinstance(protocol, DeadlineRequestHandler):
        return await handler(request)
    protocol.request_started(request.content)
    try:
        return await handler(request)
    finally:
        protocol.request_finished()


def protocol_factory(server: web.Server, settings: ServerSettings) -> Callable[[Release], DeadlineRequestHandler]:
    """A builder of one connection's protocol, given the callback that frees its slot when it closes."""

    def build(release: Release) -> DeadlineRequestHandler:
        return DeadlineRequestHandler(
            server, loop=asyncio.get_running_loop(), keepalive_timeout=settings.idle_timeout.total_seconds(),
            request_timeout=settings.request_timeout.total_seconds(), opened_at=asyncio.get_running_loop().time(),
            release=release, access_log=None,
        )

    return build


class ConnectionListener:
    """Accepts TLS connections on a bound socket, at most ``max_connections`` open at a time.

    A slot is taken before each accept and given back when the connection closes (or its handshake fails),
    so at the cap this loop simply stops calling accept: the kernel completes TCP handshakes into the listen
    queue (its backlog) and the clients wait there, costing this process nothing, until a slot frees. Once
    the queue is full the kernel drops new SYNs and clients retry. A warning says so, at most once a minute.
    """

    def __init__(
        self, listener: socket.socket, build: Callable[[Release], asyncio.Protocol], *,
        tls: ssl.SSLContext, handshake_timeout: float, max_connections: int,
    ) -> None:
        self._listener = listener
        self._build = build
        self._tls = tls
        self._handshake_timeout = handshake_timeout
        self._max = max_connections
        self._open = 0
        self._slot_freed = asyncio.Event()
        self._handshakes: set[asyncio.Task[None]] = set()
        self._accepting: asyncio.Task[None] | None = None
        self._cap_logged_at = -CAP_LOG_INTERVAL
        self._memory = MemoryReturner()

    @property
    def open_connections(self) -> int:
        """Accepted and not yet closed, handshakes in progress included."""
        return self._open

    def start(self) -> None:
        self._accepting = asyncio.get_running_loop().create_task(self._accept_forever())

    async def stop(self) -> None:
        """Stop accepting and abandon handshakes in progress; open connections are aiohttp's to drain."""
        tasks = [t for t in (self._accepting, *self._handshakes) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._memory.cancel()

    async def _accept_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._slot()
            try:
                sock, _ = await loop.sock_accept(self._listener)
            except OSError as exc:
                await self._accept_failed(exc)
                continue
            self._open += 1
            task = loop.create_task(self._connect(sock, self._release_once()))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _slot(self) -> None:
        while self._open >= self._max:
            self._log_cap_reached()
            self._slot_freed.clear()
            await self._slot_freed.wait()

    def _release_once(self) -> Release:
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open -= 1
                self._slot_freed.set()
                self._memory.connection_closed()

        return release

    async def _connect(self, sock: socket.socket, release: Release) -> None:
        """The TLS handshake (bounded by the handshake timeout), then the connection is the protocol's."""
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(
                lambda: self._build(release), sock, ssl=self._tls, ssl_handshake_timeout=self._handshake_timeout,
            )
        except asyncio.CancelledError:  # stopping
            release()
            sock.close()
            raise
        except OSError:
            # A failed or timed-out handshake: the protocol never saw the connection, so its slot is freed
            # here (asyncio logs such failures only in debug mode, as for its own server).
            release()
            sock.close()
        except Exception:
            release()
            sock.close()
            log.exception("could not set up an accepted connection")

    def _log_cap_reached(self) -> None:
        now = time.monotonic()
        if now - self._cap_logged_at >= CAP_LOG_INTERVAL:
            self._cap_logged_at = now
            log.warning("connection cap reached; not accepting until a connection closes",
                        extra={"max_connections": self._max})

    async def _accept_failed(self, exc: OSError) -> None:
        if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            log.error("cannot accept connections; pausing", extra={"reason": exc.strerror,
                                                                  "open_connections": self._open})
            await asyncio.sleep(ACCEPT_RETRY_DELAY)
        # Anything else (a client that reset before it was accepted, say) concerns that client only.
