"""The hostile-input table's machinery: what a row is, how it is sent, and what every answer must look like.

A row is data: a method, a path (``{placeholders}`` name resources the setup created), and either a fixed body
and headers or a ``make`` coroutine that builds them against the live server (fresh nonces, single-use tokens),
or raw bytes written to the TLS socket as they are (request lines aiohttp's client would refuse to send).

Every answer must be below 500 and, when it is an error, in its front end's own format: an ACME problem
document (``urn:ietf:params:acme:error:*``) under /acme/, the admin body under /admin/, step's
``{"status", "message"}`` everywhere else. Raw rows that never reach routing get aiohttp's own 4xx text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from tests.support.acme_client import JOSE, AccountKey, AcmeClient, b64, jws


@dataclass(frozen=True)
class Sent:
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class HostileEnv:
    """What the rows need from the live server: its base URL, resource paths, a registered client, keys."""

    base: str
    session: aiohttp.ClientSession
    client: AcmeClient
    paths: dict[str, str]
    extras: dict[str, Any] = field(default_factory=dict)

    def path(self, row_path: str) -> str:
        return row_path.format(**self.paths)

    def url(self, row_path: str) -> str:
        return self.base + self.path(row_path)

    async def nonce(self) -> str:
        return await self.client.nonce()


Maker = Callable[[HostileEnv, str], Awaitable[Sent]]  # (env, the row's full URL) -> what to send


@dataclass(frozen=True)
class Row:
    id: str
    method: str
    path: str
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    make: Maker | None = None
    raw: bytes | None = None  # written to the socket as is; the path then only says which front end it aims at


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def front_end(path: str) -> str:
    if path.startswith(("/acme/", "/2.0/acme/")):
        return "acme"
    if path.startswith("/admin/"):
        return "admin"
    return "step"


async def send(env: HostileEnv, row: Row) -> Answer:
    if row.raw is not None:
        return await send_raw(env.base, row.raw)
    url = env.url(row.path)
    sent = await row.make(env, url) if row.make else Sent(row.body, row.headers)
    target = URL(url, encoded=True)
    async with env.session.request(row.method, target, data=sent.body, headers=dict(sent.headers),
                                   ssl=False, allow_redirects=False) as response:
        return Answer(response.status, response.headers.get("Content-Type", ""), await response.read())


async def send_raw(base: str, data: bytes) -> Answer:
    """Write ``data`` on a fresh TLS connection and read the status line; no answer at all is status 0 (a
    server still waiting for the body a Content-Length promised is right to wait)."""
    host, port = URL(base).host, URL(base).port
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        writer.write(data)
        await writer.drain()
        try:
            reply = await asyncio.wait_for(reader.read(65536), timeout=1)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            reply = b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()
    head, _, body = reply.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return Answer(status, "", body)


def problem_with(row: Row, path: str, answer: Answer) -> str | None:
    """Why ``answer`` (to ``row``, sent to ``path``) breaks the rule, or None when it keeps it."""
    if answer.status >= 500 and not _not_implemented(answer):
        return f"status {answer.status}: {answer.body[:200]!r}"
    if answer.status < 400 or row.raw is not None or row.method == "HEAD":
        return None
    try:
        document = json.loads(answer.body)
    except ValueError:
        return f"status {answer.status} with a body that is not JSON: {answer.body[:120]!r}"
    if not isinstance(document, dict):
        return f"status {answer.status} with a JSON body that is not an object"
    kind = front_end(path)
    if kind == "acme":
        if not str(document.get("type", "")).startswith("urn:ietf:params:acme:error:"):
            return f"not an ACME problem: {document}"
        if not answer.content_type.startswith("application/problem+json"):
            return f"ACME problem served as {answer.content_type}"
    elif kind == "admin":
        if not {"type", "detail", "message"} <= set(document):
            return f"not an admin error body: {document}"
    elif document.get("status") != answer.status or not isinstance(document.get("message"), str):
        return f"not a step error body: {document}"
    return None


def _not_implemented(answer: Answer) -> bool:
    """501 is the documented refusal of a linkedca feature this build lacks (webhooks, templates), not a crash."""
    if answer.status != 501:
        return False
    try:
        return bool(json.loads(answer.body).get("type") == "notImplemented")
    except (ValueError, AttributeError):
        return False


# -- JWS building blocks ----------------------------------------------------------------------------------------
def forged(protected: dict[str, Any] | bytes | str, payload: bytes | str, key: AccountKey | None = None,
           signature: bytes | None = None) -> str:
    """A flattened JWS with any protected header (bytes go in as they are), signed by ``key`` when given."""
    if isinstance(protected, dict):
        protected_b64 = b64(json.dumps(protected).encode())
    elif isinstance(protected, bytes):
        protected_b64 = b64(protected)
    else:
        protected_b64 = protected
    payload_b64 = payload if isinstance(payload, str) else b64(payload)
    if signature is None:
        signature = key.sign(f"{protected_b64}.{payload_b64}".encode()) if key else b"\x00" * 64
    return json.dumps({"protected": protected_b64, "payload": payload_b64, "signature": b64(signature)})


def jose(body: str | bytes, **headers: str) -> Sent:
    return Sent(body, {"Content-Type": JOSE, **headers})


def signed(payload: Any, *, use_jwk: bool = False, key: AccountKey | None = None, **knobs: Any) -> Maker:
    """A correctly signed request from the env's account (or ``key`` with its jwk) carrying ``payload``."""

    async def make(env: HostileEnv, url: str) -> Sent:
        signer = key or env.client.key
        kid = None if (use_jwk or key is not None) else env.client.kid
        body = jws(signer, payload, url=url, nonce=await env.nonce(), kid=kid, **knobs)
        return jose(json.dumps(body))

    return make


def raw_payload(payload: bytes) -> Maker:
    """A correctly signed request whose payload is ``payload`` as bytes (deep JSON, NaN, invalid UTF-8)."""

    async def make(env: HostileEnv, url: str) -> Sent:
        header = {"alg": env.client.key.alg, "url": url, "nonce": await env.nonce(), "kid": env.client.kid}
        return jose(forged(header, payload, env.client.key))

    return make
