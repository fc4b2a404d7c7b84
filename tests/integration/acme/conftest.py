"""A real ``acmeca serve`` with the ACME provisioner, a test DNS server and a local http-01 responder."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from acmeca.cli.devdns.server import DNSServer
from tests.support.acme_client import AccountKey, AcmeClient
from tests.support.ca_server import CAServer, free_port


@dataclass
class Http01Responder:
    """Serves /.well-known/acme-challenge/{token} for tokens a test registers."""

    port: int
    answers: dict[str, str] = field(default_factory=dict)
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/.well-known/acme-challenge/{token}", self._answer)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def _answer(self, request: web.Request) -> web.Response:
        answer = self.answers.get(request.match_info["token"])
        return web.Response(text=answer) if answer else web.Response(status=404)

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


@dataclass
class LiveAcme:
    server: CAServer
    dns: DNSServer
    http01: Http01Responder
    session: aiohttp.ClientSession
    tls: ssl.SSLContext

    def client(self, key: AccountKey | None = None, provisioner: str = "acme") -> AcmeClient:
        url = f"https://localhost:{self.server.port}/acme/{provisioner}/directory"
        return AcmeClient(self.session, url, key=key or AccountKey.generate(), ssl_context=self.tls)


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    with DNSServer() as server:
        yield server


@pytest.fixture
async def live_acme(ca_home: CAServer, dns_server: DNSServer) -> AsyncIterator[LiveAcme]:
    responder = Http01Responder(port=free_port())
    await responder.start()

    def configure(document: dict[str, Any]) -> None:
        document["validation"] = {
            "resolver": f"127.0.0.1:{dns_server.port}", "http01Port": responder.port,
            "tlsAlpn01Port": free_port(), "timeout": "3s",
        }
        for provisioner in document["authority"]["provisioners"]:
            if provisioner["type"] == "ACME":
                provisioner["ordersPerPage"] = 2
                provisioner["claims"] = {"maxTLSCertDuration": "2160h", "defaultTLSCertDuration": "24h"}

    ca_home.edit_config(configure)
    ca_home.start()
    tls = ssl.create_default_context(cafile=str(ca_home.root_path))
    try:
        async with aiohttp.ClientSession(headers={"User-Agent": "acmeca-tests"}) as session:
            yield LiveAcme(ca_home, dns_server, responder, session, tls)
    finally:
        await responder.stop()
        code = ca_home.stop()
        assert code == 0, ca_home.log()
