"""Connection limits on a real ``acmeca serve``: idle and slow clients are cut off, issuance goes on, the cap holds.

The server runs with short deadlines (ca.json ``server``); the clients are raw asyncio TLS streams, so the
test controls exactly what each connection sends and when. One database backend is enough: none of this
touches storage beyond the few issuances.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest
from jwcrypto import jws

from tests.integration.step.test_wire import csr_pem, provisioner_key
from tests.support.ca_server import CAServer, init_ca
from tests.support.databases import fresh_db_config

# Longer than the idle timeout, aiohttp's keep-alive timer (which also closes a connection whose request is
# incomplete) would close the slow senders before they could be shown their 408.
IDLE = 7.0  # server.idleTimeout
REQUEST = 6.0  # server.requestTimeout: long enough for every connection below to be open at once
SLACK = 2.0  # every close must come within its deadline plus this
SILENT_TCP = 900  # never start TLS: the handshake deadline
SILENT_TLS = 100  # TLS, then nothing: the first request's deadline
SLOW_HEADERS = 180
SLOW_BODIES = 20
KEPT_ALIVE = 10  # one request, then idle: the idle timeout
ISSUANCES = 5
HELD = SILENT_TCP + SILENT_TLS + SLOW_HEADERS + SLOW_BODIES
CAP = HELD + KEPT_ALIVE + 20  # room for the issuing client
SMALL_CAP = 20


@pytest.fixture(scope="module")
def limited_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CAServer]:
    directory = tmp_path_factory.mktemp("limits")
    db, drop = fresh_db_config("sqlite", directory)
    server = init_ca(directory / "ca", db)
    set_limits(server, idle=IDLE, request=REQUEST, cap=CAP)
    _allow_open_files(CAP + 200)
    server.start()
    yield server
    assert server.stop() == 0, server.log()
    drop()


def set_limits(server: CAServer, *, idle: float, request: float, cap: int) -> None:
    limits = {"idleTimeout": f"{idle:.0f}s", "requestTimeout": f"{request:.0f}s", "maxConnections": cap}
    server.edit_config(lambda document: document.update(server=limits))


def _allow_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    opened: float  # monotonic, once the TLS handshake is done


async def connect(port: int, tls: ssl.SSLContext) -> Connection:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls, server_hostname="localhost")
    return Connection(reader, writer, time.monotonic())


async def until_closed(connection: Connection) -> tuple[float, bytes]:
    """When the server closed the connection (monotonic), and everything it sent before."""
    received = b""
    try:
        while chunk := await connection.reader.read(65536):
            received += chunk
    except (ConnectionError, ssl.SSLError):
        pass
    return time.monotonic(), received


async def trickle(connection: Connection, data: bytes) -> None:
    """Send ``data`` a byte every 0.2 s, stopping quietly once the server has closed."""
    for byte in data:
        if connection.writer.is_closing() or connection.reader.at_eof():
            return
        try:
            connection.writer.write(bytes([byte]))
            await connection.writer.drain()
        except (ConnectionError, ssl.SSLError):
            return
        await asyncio.sleep(0.2)


async def open_many(count: int, port: int, tls: ssl.SSLContext) -> list[Connection]:
    gate = asyncio.Semaphore(100)

    async def one() -> Connection:
        async with gate:
            return await connect(port, tls)

    return list(await asyncio.gather(*(one() for _ in range(count))))


def tls_context(server: CAServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.root_path))


class Tokens:
    """One-time tokens for /1.0/sign, signed with the JWK provisioner's key (decrypted once: it is slow)."""

    def __init__(self, server: CAServer) -> None:
        self._server = server
        self._key, self._kid = provisioner_key(server)

    def mint(self, subject: str) -> str:
        now = int(time.time())
        claims = {
            "iss": "admin", "aud": f"https://localhost:{self._server.port}/1.0/sign", "sub": subject,
            "sans": [subject], "nbf": now, "iat": now, "exp": now + 300, "jti": secrets.token_hex(32),
            "sha": self._server.fingerprint(),
        }
        token = jws.JWS(json.dumps(claims).encode())
        token.add_signature(self._key, alg="ES256", protected=json.dumps({"alg": "ES256", "kid": self._kid,
                                                                          "typ": "JWT"}))
        return str(token.serialize(compact=True))


async def issue(server: CAServer, tls: ssl.SSLContext, requests: list[tuple[str, str]]) -> list[int]:
    async with aiohttp.ClientSession() as session:
        statuses = []
        for subject, token in requests:
            body = {"csr": csr_pem(subject, [subject]), "ott": token}
            async with session.post(f"{server.url}/1.0/sign", json=body, ssl=tls) as response:
                await response.read()
                statuses.append(response.status)
        return statuses


HEALTH = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
SLOW_HEADER_REQUEST = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
SLOW_BODY_HEAD = (b"POST /1.0/sign HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 200\r\n\r\n")


async def read_response(connection: Connection) -> bytes:
    head = await connection.reader.readuntil(b"\r\n\r\n")
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    length = int(lengths[0])
    return head + await connection.reader.readexactly(length)


async def within(seconds: float, closes: list[asyncio.Future[tuple[float, bytes]]]) -> list[tuple[float, bytes]]:
    """The closes, which must all have come within ``seconds`` (so a server that never closes fails fast)."""
    return list(await asyncio.wait_for(asyncio.gather(*closes), seconds))


async def close_all(connections: list[Connection]) -> None:
    for connection in connections:
        connection.writer.close()
    for connection in connections:
        with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(connection.writer.wait_closed(), 5)


async def connect_tcp(port: int) -> Connection:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return Connection(reader, writer, time.monotonic())


async def test_idle_and_slow_clients_are_cut_off_while_issuance_goes_on(limited_ca: CAServer) -> None:
    tls = tls_context(limited_ca)
    minter = Tokens(limited_ca)
    tokens = [(f"busy{i}.local", minter.mint(f"busy{i}.local")) for i in range(ISSUANCES)]
    kept_alive = await open_many(KEPT_ALIVE, limited_ca.port, tls)
    answered = []
    for connection in kept_alive:
        connection.writer.write(HEALTH)
        assert (await read_response(connection)).startswith(b"HTTP/1.1 200")
        answered.append(time.monotonic())
    alive_closes = [asyncio.ensure_future(until_closed(c)) for c in kept_alive]
    started = time.monotonic()
    silent_tcp = list(await asyncio.gather(*(connect_tcp(limited_ca.port) for _ in range(SILENT_TCP))))
    slow_bodies = await open_many(SLOW_BODIES, limited_ca.port, tls)
    for connection in slow_bodies:
        connection.writer.write(SLOW_BODY_HEAD)
    slow_headers = await open_many(SLOW_HEADERS, limited_ca.port, tls)
    senders = [asyncio.ensure_future(trickle(c, b"{" + b" " * 198 + b"}")) for c in slow_bodies]
    senders += [asyncio.ensure_future(trickle(c, SLOW_HEADER_REQUEST)) for c in slow_headers]
    silent_tls = await open_many(SILENT_TLS, limited_ca.port, tls)
    silent = silent_tcp + silent_tls
    silent_closes = [asyncio.ensure_future(until_closed(c)) for c in silent]
    header_closes = [asyncio.ensure_future(until_closed(c)) for c in slow_headers]
    body_closes = [asyncio.ensure_future(until_closed(c)) for c in slow_bodies]
    opened = time.monotonic() - started

    await asyncio.sleep(0.1)  # a close already under way shows up as a finished task
    held = sum(not task.done() for task in silent_closes + header_closes + body_closes + alive_closes)
    assert held == HELD + KEPT_ALIVE, f"{HELD + KEPT_ALIVE - held} connections closed before {opened:.1f}s"
    assert await issue(limited_ca, tls, tokens) == [201] * ISSUANCES

    for connection, (closed, received) in zip(silent, await within(IDLE + SLACK, silent_closes), strict=True):
        assert received == b""
        assert closed - connection.opened <= REQUEST + SLACK
    for connection, (closed, received) in zip(slow_headers, await within(IDLE + SLACK, header_closes), strict=True):
        assert received.startswith(b"HTTP/1.1 408 "), received[:100]
        assert closed - connection.opened <= REQUEST + SLACK
    for connection, (closed, received) in zip(slow_bodies, await within(IDLE + SLACK, body_closes), strict=True):
        assert received.startswith(b"HTTP/1.1 408 "), received[:100]
        assert b'"status":408' in received.replace(b" ", b""), received
        assert closed - connection.opened <= REQUEST + SLACK
    for answer, (closed, received) in zip(answered, await within(IDLE + SLACK, alive_closes), strict=True):
        assert received == b""
        assert closed - answer <= IDLE + SLACK
    await asyncio.gather(*senders)
    await close_all(silent + slow_headers + slow_bodies + kept_alive)


async def test_beyond_the_cap_a_connection_waits_until_one_closes(limited_ca: CAServer) -> None:
    limited_ca.stop()
    set_limits(limited_ca, idle=60, request=60, cap=SMALL_CAP)
    limited_ca.start()
    tls = tls_context(limited_ca)
    full = await open_many(SMALL_CAP, limited_ca.port, tls)
    waiting = asyncio.ensure_future(connect(limited_ca.port, tls))
    done, _ = await asyncio.wait([waiting], timeout=1.0)
    assert not done, "a connection beyond the cap completed its TLS handshake"
    assert "connection cap reached" in limited_ca.log()

    await close_all(full[:1])
    extra = await asyncio.wait_for(waiting, 10)
    extra.writer.write(HEALTH)
    assert (await read_response(extra)).startswith(b"HTTP/1.1 200")
    await close_all([*full[1:], extra])
