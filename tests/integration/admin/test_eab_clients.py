"""The issue's "done when": an ACME provisioner added remotely (no restart) issues through EAB to certbot
(``--eab-kid/--eab-hmac-key``) and lego (``--eab --kid --hmac``), each with its own key."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from acmeca.cli.devdns.server import DNSServer
from tests.integration.admin.conftest import SUPER, AdminCA
from tests.interop.conftest import InteropCA, check_chain, client_env, require_binary, run_client
from tests.support.ca_server import free_port, init_ca
from tests.support.databases import fresh_db_config

pytestmark = pytest.mark.interop


@pytest.fixture
def eab_ca(backend: str, tmp_path: Path) -> Iterator[tuple[InteropCA, AdminCA]]:
    db, drop = fresh_db_config(backend, tmp_path)
    with DNSServer() as dns:
        server = init_ca(tmp_path / "ca", db, extra=("--remote-management", "--admin-subject", SUPER))
        http_port = free_port()
        validation = {"resolver": f"127.0.0.1:{dns.port}", "http01Port": http_port, "timeout": "10s"}
        server.edit_config(lambda document: document.update({"validation": validation}))
        server.start()
        try:
            yield InteropCA(server, dns, http_port, free_port(), backend), AdminCA(server)
        finally:
            server.stop()
            drop()


def _eab_key(admin: AdminCA, tmp_path: Path, reference: str) -> tuple[str, str]:
    async def create() -> tuple[str, str]:
        session = admin.session(SUPER, tmp_path)
        provisioners = await session.call("GET", "/admin/provisioners")
        if not any(p["name"] == "eab" for p in provisioners["provisioners"]):
            await session.call("POST", "/admin/provisioners", expect=(201,),
                               body={"type": "ACME", "name": "eab", "details": {"ACME": {"requireEab": True}}})
        key = await session.call("POST", "/admin/acme/eab/eab", body={"reference": reference}, expect=(201,))
        return str(key["id"]), base64.urlsafe_b64encode(base64.b64decode(key["hmacKey"])).decode().rstrip("=")

    return asyncio.run(create())


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_lego_and_certbot_with_eab(eab_ca: tuple[InteropCA, AdminCA], tmp_path: Path, backend: str) -> None:
    ca, admin = eab_ca
    directory = f"{ca.server.url}/acme/eab/directory"
    kid, hmac_key = _eab_key(admin, tmp_path, "lego")
    lego_name = f"lego.{backend}.eab.test"
    lego_home = tmp_path / "lego"
    run_client([
        require_binary("lego"), "--server", directory, "--email", "eab@example.test", "--accept-tos",
        "--path", str(lego_home), "--key-type", "ec256", "--dns.resolvers", f"127.0.0.1:{ca.dns.port}",
        "--eab", "--kid", kid, "--hmac", hmac_key, f"--domains={lego_name}",
        "--http", "--http.port", f"127.0.0.1:{ca.http01_port}", "run",
    ], client_env(ca))
    check_chain((lego_home / "certificates" / f"{lego_name}.crt").read_bytes(), ca, dns_names={lego_name})

    kid, hmac_key = _eab_key(admin, tmp_path, "certbot")
    certbot_name = f"certbot.{backend}.eab.test"
    home = tmp_path / "certbot"
    run_client([
        require_binary("certbot"), "certonly", "--standalone", "--http-01-port", str(ca.http01_port),
        "--http-01-address", "127.0.0.1", "--cert-name", "eab", f"-d={certbot_name}", "--server", directory,
        "--config-dir", str(home / "config"), "--work-dir", str(home / "work"), "--logs-dir", str(home / "logs"),
        "--non-interactive", "--agree-tos", "--register-unsafely-without-email", "--key-type", "ecdsa",
        "--eab-kid", kid, "--eab-hmac-key", hmac_key,
    ], client_env(ca))
    fullchain = (home / "config" / "live" / "eab" / "fullchain.pem").read_bytes()
    check_chain(fullchain, ca, dns_names={certbot_name})
