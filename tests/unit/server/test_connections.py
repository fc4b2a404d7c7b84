"""The request deadline, the connection cap and the memory trim, in process over real TLS sockets.

The server side is the production listener and protocol around a tiny aiohttp app; deadlines are one
second and the idle timeout long, so every close seen here is the request deadline's doing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from acmeca.config import ServerSettings
from acmeca.edge.middleware import error_guard
from acmeca.server.connections import ConnectionListener, protocol_factory, receive_deadline
from acmeca.server.memory import MemoryReturner
from acmeca.step.web.errors import render_step_error
from tests.support.inprocess import throwaway_tls_context

REQUEST = 1.0
WAIT = 5.0  # far beyond the deadline: a server without one fails here instead of hanging


async def _echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read())


@dataclass
class Served:
    port: int
    listener: ConnectionListener


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    app = web.Application(middlewares=[receive_deadline, error_guard(render_step_error)])
    app.router.add_post("/echo", _echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    assert runner.server is not None
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    settings = ServerSettings(idle_timeout=timedelta(seconds=30), request_timeout=timedelta(seconds=REQUEST),
                              max_connections=2)
    listener = ConnectionListener(sock, protocol_factory(runner.server, settings),
                                  tls=throwaway_tls_context(tmp_path), handshake_timeout=REQUEST, max_connections=2)
    listener.start()
    yield Served(sock.getsockname()[1], listener)
    await listener.stop()
    await runner.cleanup()
    sock.close()


def _client() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, ssl=_client(), server_hostname="localhost")


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    received = b""
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def _closed_within(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    try:
        return await asyncio.wait_for(_until_closed(reader), WAIT)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


POST = b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\n"


async def test_partial_headers_get_a_raw_408_and_a_close(served: Served) -> None:
    reader, writer = await _open(served.port)
    writer.write(POST[:20])
    received = await _closed_within(reader, writer)
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


async def test_a_late_body_gets_the_front_ends_408_and_a_close(served: Served) -> None:
    reader, writer = await _open(served.port)
    writer.write(POST + b"ab")
    received = await _closed_within(reader, writer)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert b'"status": 408' in received
    assert b"did not arrive within 1s" in received


async def test_silence_is_closed_without_an_answer(served: Served) -> None:
    reader, writer = await _open(served.port)
    assert await _closed_within(reader, writer) == b""


async def test_a_stalled_tls_handshake_is_closed(served: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    assert await _closed_within(reader, writer) == b""


async def test_each_request_of_a_kept_alive_connection_gets_its_own_deadline(served: Served) -> None:
    reader, writer = await _open(served.port)
    for body in (b"first", b"again"):
        writer.write(POST + body)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert await reader.readexactly(5) == body
        await asyncio.sleep(REQUEST * 0.7)  # 1.4 deadlines since the accept by the second pass
    writer.write(POST[:10])
    assert (await _closed_within(reader, writer)).startswith(b"HTTP/1.1 408 ")


async def test_at_the_cap_the_next_connection_waits_for_a_free_slot(served: Served) -> None:
    first, second = await _open(served.port), await _open(served.port)
    assert served.listener.open_connections == 2
    waiting = asyncio.ensure_future(_open(served.port))
    done, _ = await asyncio.wait([waiting], timeout=0.5)
    assert not done
    first[1].close()
    reader, writer = await asyncio.wait_for(waiting, WAIT)
    writer.write(POST + b"hello")
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)).startswith(b"HTTP/1.1 200 ")
    for stream in (second[1], writer):
        stream.close()


async def test_memory_is_trimmed_once_after_a_burst_of_closes() -> None:
    calls: list[int] = []
    returner = MemoryReturner(lambda pad: calls.append(pad) or 1, after=3)
    for _ in range(5):
        returner.connection_closed()
    await asyncio.sleep(1.2)
    assert calls == [0]
    returner.cancel()
