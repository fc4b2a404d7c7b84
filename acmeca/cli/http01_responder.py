"""Answering http-01 (RFC 8555 §8.3) for the CLI's ACME flow: step's ``--standalone`` and ``--webroot`` modes.

Standalone serves ``/.well-known/acme-challenge/{token}`` with aiohttp on ``--http-listen`` (default ``:80``,
every interface) only while the flow runs; webroot writes the key authorization file under
``DIR/.well-known/acme-challenge/`` for a web server that is already running, and removes it afterwards.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from types import TracebackType

from aiohttp import web

from acmeca.cli.errors import CLIError

CHALLENGE_DIRECTORY = ".well-known/acme-challenge"
DEFAULT_LISTEN = ":80"


def parse_listen(address: str) -> tuple[str | None, int]:
    """``[host]:port`` as Go's net.Listen takes it (``:80``, ``127.0.0.1:8080``, ``[::1]:8080``); host None = all."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise CLIError(f"--http-listen {address!r} must be [host]:port, such as :80 or 127.0.0.1:8080")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise CLIError(f"--http-listen {address!r} has an invalid IPv6 address") from None
    return (host or None), int(port_text)


class StandaloneResponder:
    """An aiohttp server answering the presented tokens; listening only inside ``async with``."""

    def __init__(self, address: str = DEFAULT_LISTEN) -> None:
        self.address = address
        self._host, self._port = parse_listen(address)
        self._answers: dict[str, str] = {}
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.Response:
        value = self._answers.get(request.match_info["token"])
        if value is None:
            return web.Response(status=404, text="no such challenge\n")
        return web.Response(text=value, content_type="application/octet-stream")

    async def __aenter__(self) -> StandaloneResponder:
        app = web.Application()
        app.router.add_get(f"/{CHALLENGE_DIRECTORY}/{{token}}", self._answer)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as exc:
            await runner.cleanup()
            raise CLIError(f"cannot listen on {self.address} for http-01: {exc.strerror or exc}") from None
        self._runner = runner
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def present(self, token: str, key_authorization: str) -> None:
        self._answers[token] = key_authorization

    async def remove(self, token: str) -> None:
        self._answers.pop(token, None)


class WebrootResponder:
    """Writes ``DIR/.well-known/acme-challenge/{token}`` (world-readable, as a web server needs) and cleans up."""

    def __init__(self, root: Path) -> None:
        self.directory = root / CHALLENGE_DIRECTORY
        self._written: set[Path] = set()

    def _path(self, token: str) -> Path:
        if not token or "/" in token or token in (".", ".."):
            raise CLIError(f"the ACME server sent an unusable http-01 token {token!r}")
        return self.directory / token

    async def __aenter__(self) -> WebrootResponder:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        for path in list(self._written):
            path.unlink(missing_ok=True)
        self._written.clear()

    async def present(self, token: str, key_authorization: str) -> None:
        path = self._path(token)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_text(key_authorization, encoding="ascii")
            path.chmod(0o644)
        except OSError as exc:
            raise CLIError(f"cannot write the http-01 file {path}: {exc.strerror or exc}") from None
        self._written.add(path)

    async def remove(self, token: str) -> None:
        path = self._path(token)
        path.unlink(missing_ok=True)
        self._written.discard(path)


def responder(webroot: str | None, listen: str | None) -> StandaloneResponder | WebrootResponder:
    """``--webroot DIR`` if given, else the standalone server on ``--http-listen`` (step's default mode)."""
    if webroot:
        return WebrootResponder(Path(webroot))
    return StandaloneResponder(listen or DEFAULT_LISTEN)
