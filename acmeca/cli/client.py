"""HTTPS client for the CA's APIs, pinned to the bootstrapped root (or, for bootstrap, unverified + fingerprint)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from acmeca.cli.errors import CLIError


@contextmanager
def transport_errors(server: str, url: str) -> Iterator[None]:
    """aiohttp's connection failures as the one-line CLI errors every command prints (``server``: who was asked)."""
    try:
        yield
    except aiohttp.ClientConnectorCertificateError as exc:
        raise CLIError(f"cannot verify {server}: {exc.certificate_error}") from None
    except aiohttp.ClientConnectorError as exc:
        raise CLIError(f"cannot connect to {server}: {exc.os_error.strerror or exc}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CLIError(f"request to {url} failed: {type(exc).__name__} {exc}".rstrip()) from None

TIMEOUT = aiohttp.ClientTimeout(total=30)


def pinned_context(root: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if root is not None:
        try:
            context = ssl.create_default_context(cafile=str(root))
        except (OSError, ssl.SSLError) as exc:
            raise CLIError(f"cannot load root certificate {root}: {exc}") from None
    return context


def unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class CAClient:
    def __init__(self, ca_url: str, ssl_context: ssl.SSLContext) -> None:
        self.ca_url = ca_url.rstrip("/")
        self._ssl = ssl_context

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The trust this client pins (other clients of the same CA, such as the ACME flow, reuse it)."""
        return self._ssl

    async def request(
        self, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        url = self.ca_url + path
        data = None if body is None else json.dumps(body).encode()
        send_headers = {"Content-Type": "application/json"} if data is not None else {}
        send_headers.update(headers or {})
        with transport_errors(f"the CA at {self.ca_url}", url):
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as session,
                session.request(method, url, data=data, headers=send_headers, ssl=self._ssl) as response,
            ):
                return response.status, await response.read(), dict(response.headers)

    async def json(self, method: str, path: str, *, body: Any = None, expect: tuple[int, ...] = (200, 201),
                   headers: dict[str, str] | None = None) -> Any:
        status, data, _ = await self.request(method, path, body=body, headers=headers)
        if status not in expect:
            raise CLIError(error_message(status, data))
        try:
            return json.loads(data)
        except ValueError:
            raise CLIError(f"the CA answered {status} with a body that is not JSON") from None


def error_message(status: int, data: bytes) -> str:
    """The server's step-style message when there is one, else the status."""
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if isinstance(document, dict):
        message = document.get("message") or document.get("detail")
        if message:
            return str(message)
    return f"the CA answered with status {status}"
