"""Fleet features with real clients against a real ``acmeca serve`` (issue 6).

One CA per backend for the module, with remote management on and a ``ca.json`` that exercises every new key:
the ``acme`` provisioner offers a ``shortlived`` profile, an ARI window re-polled every second and
``caaIdentities``; ``limited`` has tiny rate limits; the top level lists an alternate chain up to "Other Root
CA"; ``eab`` (External Account Binding required) is added remotely by the README's commands. Nothing sleeps for
long: certbot's ARI decision is driven by the operator's early-renewal command, and rate limits refill within
two seconds.

certbot: ``--preferred-profile`` + ARI renewal (not due, then due after ``acmeca acme renewal-window --now``),
``--preferred-chain``. lego: ``--preferred-chain`` and the README's cert-manager EAB flow. The tests' josepy
client: CAA records served by the test DNS server (allowed, forbidden, accounturi and validationmethods
mismatches) and rate limits hit then recovered. Full matrix on SQLite, one flow per client on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509

from acmeca.cli.devdns.server import DNSServer
from tests.integration.admin.conftest import SUPER, AdminCA
from tests.interop.conftest import (
    BACKENDS,
    SQLITE_ONLY,
    InteropCA,
    check_chain,
    client_env,
    require_binary,
    run_client,
)
from tests.interop.test_certbot import Certbot
from tests.support.acme_client import AccountKey, AcmeClient
from tests.support.ca_server import PASSWORD, free_port, init_ca
from tests.support.databases import fresh_db_config
from tests.support.pki import make_cross_signed_chain

pytestmark = pytest.mark.interop
CAA_IDENTITY = "acmeca.test"
OTHER_ROOT = "Other Root CA"


def _configure(document: dict[str, Any], validation: dict[str, Any]) -> None:
    """ca.json with provisioners and remote management: the first start imports them into the database."""
    document["authority"].update({"enableAdmin": True, "adminSubject": SUPER})
    document["validation"] = validation
    document["alternateChains"] = [["certs/intermediate_cross.crt", "certs/other_root.crt"]]
    claims = {"minTLSCertDuration": "1h", "maxTLSCertDuration": "48h", "defaultTLSCertDuration": "24h"}
    for provisioner in document["authority"]["provisioners"]:
        if provisioner["name"] == "acme":
            provisioner.update({
                "claims": claims, "caaIdentities": [CAA_IDENTITY],
                "profiles": {"shortlived": {"description": "Six hours", "validity": "6h",
                                            "extKeyUsage": ["serverAuth"], "omitCommonName": True}},
                "renewalInfo": {"windowStart": 0.66, "windowEnd": 0.8, "retryAfter": "1s"},
            })
    document["authority"]["provisioners"] += [
        {"type": "ACME", "name": "limited",
         "rateLimits": {"newAccountsPerIP": "1/2s", "newOrdersPerAccount": "1/2s"}},
    ]


@dataclass
class FleetCA:
    ca: InteropCA
    admin: AdminCA


class FleetPool:
    def __init__(self, directory: Path, dns: DNSServer) -> None:
        self._directory, self._dns = directory, dns
        self._cas: dict[str, FleetCA] = {}
        self._drops: list[Any] = []

    def get(self, backend: str) -> FleetCA:
        if backend not in self._cas:
            (self._directory / backend).mkdir(parents=True, exist_ok=True)
            db, drop = fresh_db_config(backend, self._directory / backend, exclusive=True)
            self._drops.append(drop)
            server = init_ca(self._directory / backend / "ca", db)
            make_cross_signed_chain(server.home, PASSWORD.encode(), other_root_cn=OTHER_ROOT)
            http_port, tls_port = free_port(), free_port()
            validation = {"resolver": self._dns.address, "http01Port": http_port, "tlsAlpn01Port": tls_port,
                          "timeout": "5s"}
            server.edit_config(lambda document: _configure(document, validation))
            server.start()
            self._cas[backend] = FleetCA(InteropCA(server, self._dns, http_port, tls_port, backend), AdminCA(server))
        return self._cas[backend]

    def close(self) -> None:
        for fleet in self._cas.values():
            fleet.ca.server.stop()
        for drop in self._drops:
            drop()


@pytest.fixture(scope="module")
def fleet_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetPool]:
    with DNSServer(control_port=0) as dns:
        pool = FleetPool(tmp_path_factory.mktemp("fleet"), dns)
        yield pool
        pool.close()


def _certbot(fleet: FleetCA, home: Path) -> Certbot:
    return Certbot(fleet.ca, home)


def _standalone(certbot: Certbot, cert_name: str, name: str, *extra: str) -> None:
    certbot.run("certonly", "--standalone", "--http-01-port", str(certbot.ca.http01_port), "--http-01-address",
                "127.0.0.1", "--cert-name", cert_name, f"-d={name}", *extra)


# -- certbot ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_certbot_profile_and_ari_renewal(fleet_pool: FleetPool, tmp_path: Path, backend: str) -> None:
    """certbot asks renewalInfo: not due inside the window, due once the operator moves the window to now."""
    fleet = fleet_pool.get(backend)
    certbot = _certbot(fleet, tmp_path / "certbot")
    name = f"ari.{backend}.fleet.test"
    _standalone(certbot, "ari", name, "--preferred-profile", "shortlived")
    first = check_chain(certbot.fullchain("ari"), fleet.ca, dns_names={name})
    assert first.not_valid_after_utc - first.not_valid_before_utc <= timedelta(hours=6, minutes=1)
    assert first.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME) == []

    time.sleep(1.2)  # past the 1 s Retry-After certbot stores from the previous ARI answer
    certbot.run("renew", "--cert-name", "ari")
    assert certbot.leaf("ari").serial_number == first.serial_number  # the window is hours away: not due

    _, out = fleet.admin.admin_cli("acme", "renewal-window", "--serial", str(first.serial_number), "--now")
    assert "Early renewal requested for 1 certificate" in out
    time.sleep(1.2)
    certbot.run("renew", "--cert-name", "ari")
    renewed = check_chain(certbot.fullchain("ari"), fleet.ca, dns_names={name})
    assert renewed.serial_number != first.serial_number
    assert renewed.not_valid_after_utc - renewed.not_valid_before_utc <= timedelta(hours=6, minutes=1)


def _chain_roots(fullchain: bytes) -> list[str]:
    chain = x509.load_pem_x509_certificates(fullchain)
    return [str(c.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value) for c in chain]


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_certbot_preferred_chain(fleet_pool: FleetPool, tmp_path: Path, backend: str) -> None:
    fleet = fleet_pool.get(backend)
    certbot = _certbot(fleet, tmp_path / "certbot")
    name = f"chain.{backend}.certbot.fleet.test"
    _standalone(certbot, "chain", name, "--preferred-chain", OTHER_ROOT)
    assert _chain_roots(certbot.fullchain("chain"))[-1] == OTHER_ROOT
    _standalone(certbot, "plain", f"plain.{backend}.certbot.fleet.test")
    assert _chain_roots(certbot.fullchain("plain"))[-1] == "Test Root CA"


# -- lego ---------------------------------------------------------------------------------------------------
def _lego(fleet: FleetCA, home: Path, directory: str, name: str, *extra: str) -> bytes:
    run_client([
        require_binary("lego"), "--server", directory, "--email", "fleet@example.test", "--accept-tos",
        "--path", str(home), "--key-type", "ec256", "--dns.resolvers", fleet.ca.dns.address, f"--domains={name}",
        "--http", "--http.port", f"127.0.0.1:{fleet.ca.http01_port}", *extra,
    ], client_env(fleet.ca))
    return (home / "certificates" / f"{name}.crt").read_bytes()


@pytest.mark.parametrize("backend", BACKENDS)
def test_lego_preferred_chain(fleet_pool: FleetPool, tmp_path: Path, backend: str) -> None:
    fleet = fleet_pool.get(backend)
    name = f"chain.{backend}.lego.fleet.test"
    fullchain = _lego(fleet, tmp_path / "lego", fleet.ca.directory, name, "run", "--preferred-chain", OTHER_ROOT)
    assert _chain_roots(fullchain)[-1] == OTHER_ROOT
    leaf = x509.load_pem_x509_certificates(fullchain)[0]
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == name


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_readme_cert_manager_eab_flow(fleet_pool: FleetPool, tmp_path: Path, backend: str) -> None:
    """The README's steps: ``acmeca provisioner add eab --type ACME --require-eab``, then
    ``acmeca acme eab add eab cert-manager`` prints the key the ClusterIssuer's Secret holds; a client binding
    with it (lego ``--eab``, what cert-manager does) gets a certificate, and a second account cannot reuse it."""
    fleet = fleet_pool.get(backend)
    fleet.admin.admin_cli("provisioner", "add", "eab", "--type", "ACME", "--require-eab")
    _, out = fleet.admin.admin_cli("acme", "eab", "add", "eab", "cert-manager")
    row = next(line for line in out.splitlines() if "cert-manager" in line)
    kid, _provisioner, hmac_key, _reference = row.split()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", hmac_key)
    directory = f"{fleet.ca.server.url}/acme/eab/directory"
    name = f"cm.{backend}.fleet.test"
    fullchain = _lego(fleet, tmp_path / "lego", directory, name, "--eab", "--kid", kid, "--hmac", hmac_key, "run")
    check_chain(fullchain, fleet.ca, dns_names={name})
    without = run_client([
        require_binary("lego"), "--server", directory, "--email", "x@example.test", "--accept-tos", "--path",
        str(tmp_path / "other"), "--key-type", "ec256", f"--domains={name}", "--http", "--http.port",
        f"127.0.0.1:{fleet.ca.http01_port}", "--eab", "--kid", kid, "--hmac", hmac_key, "run",
    ], client_env(fleet.ca), check=False)
    assert without.returncode != 0  # the key is bound to the first account


# -- the tests' own client: CAA through the test DNS server, rate limits on a live server --------------------
async def _client(fleet: FleetCA, session: aiohttp.ClientSession, provisioner: str = "acme") -> AcmeClient:
    import ssl

    context = ssl.create_default_context(cafile=str(fleet.ca.root_path))
    url = f"{fleet.ca.server.url}/acme/{provisioner}/directory"
    return AcmeClient(session, url, key=AccountKey.generate(), ssl_context=context)


async def _dns01(fleet: FleetCA, client: AcmeClient, name: str) -> dict[str, Any]:
    """Order ``name`` and answer dns-01 through the test DNS server; returns the authorization afterwards."""
    order = await client.new_order([{"type": "dns", "value": name}])
    assert order.status == 201, order.body
    authz_url = order.json()["authorizations"][0]
    challenge = next(c for c in (await client.get(authz_url)).json()["challenges"] if c["type"] == "dns-01")
    digest = hashlib.sha256(f"{challenge['token']}.{client.key.thumbprint}".encode()).digest()
    fleet.ca.dns.add_txt(f"_acme-challenge.{name}", base64.urlsafe_b64encode(digest).decode().rstrip("="))
    assert (await client.post(challenge["url"], {})).status == 200
    return (await client.poll(authz_url, until=("valid", "invalid"), patience=20)).json()


CAA_CASES = [
    ("allowed", f"{CAA_IDENTITY}", "valid"),
    ("forbidden", "other-ca.example", "invalid"),
    ("accounturi", f"{CAA_IDENTITY}; accounturi=https://elsewhere.test/acct/1", "invalid"),
    ("methods", f"{CAA_IDENTITY}; validationmethods=http-01", "invalid"),
]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_caa_records_from_the_test_dns_server(fleet_pool: FleetPool, backend: str) -> None:
    fleet = await asyncio.to_thread(fleet_pool.get, backend)
    cases = CAA_CASES if backend == "sqlite" else CAA_CASES[:2]
    async with aiohttp.ClientSession() as session:
        client = await _client(fleet, session)
        assert (await client.register()).status == 201
        for case, value, expected in cases:
            zone = f"{case}.caa.{backend}.fleet.test"
            fleet.ca.dns.add_caa(zone, "issue", value)
            authz = await _dns01(fleet, client, f"www.{zone}")  # the record sits one label up: tree climbing
            assert authz["status"] == expected, (case, authz)
            if expected == "invalid":
                error = authz["challenges"][0].get("error") or next(
                    c["error"] for c in authz["challenges"] if c.get("error"))
                assert error["type"] == "urn:ietf:params:acme:error:caa", error
        matching = f"self.caa.{backend}.fleet.test"  # accounturi naming this very account is allowed
        fleet.ca.dns.add_caa(matching, "issue", f"{CAA_IDENTITY}; accounturi={client.kid}")
        assert (await _dns01(fleet, client, matching))["status"] == "valid"


@pytest.mark.parametrize("backend", SQLITE_ONLY)
async def test_rate_limits_hit_and_recovered_on_a_live_server(fleet_pool: FleetPool, backend: str) -> None:
    fleet = await asyncio.to_thread(fleet_pool.get, backend)
    async with aiohttp.ClientSession() as session:
        first = await _client(fleet, session, "limited")
        assert (await first.register()).status == 201
        second = await _client(fleet, session, "limited")
        refused = await second.register()
        assert (refused.status, refused.problem_type) == (429, "rateLimited"), refused.body
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        await asyncio.sleep(int(refused.headers["Retry-After"]) + 0.2)
        assert (await second.register()).status == 201
        identifiers = [{"type": "dns", "value": f"rl.{backend}.fleet.test"}]
        assert (await first.new_order(identifiers)).status == 201
        limited = await first.new_order(identifiers)
        assert (limited.status, limited.problem_type) == (429, "rateLimited")
        await asyncio.sleep(int(limited.headers["Retry-After"]) + 0.2)
        assert (await first.new_order(identifiers)).status == 201


# -- the operator's side: early-renewal API and CLI refusals, and ca.json refused at start -------------------
@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_early_renewal_api_refuses_bad_input(fleet_pool: FleetPool, tmp_path: Path, backend: str) -> None:
    fleet = fleet_pool.get(backend)
    session = fleet.admin.session(SUPER, tmp_path)
    intermediate_path = fleet.ca.server.home / "certs" / "intermediate_ca.crt"
    intermediate = x509.load_pem_x509_certificate(intermediate_path.read_bytes())
    issuer = intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()

    async def calls() -> list[tuple[int, bytes]]:
        bodies: list[Any] = [
            {}, {"serials": ["1"], "issuer": issuer}, {"serials": "1"}, {"serials": ["abc"]}, {"serials": []},
            {"issuer": "zz"}, {"issuer": "00" * 20}, {"serial": ["1"]}, [1],
        ]
        answers = [await session.raw("POST", "/admin/acme/renewal-info", body=b) for b in bodies]
        answers.append(await session.raw("POST", "/admin/acme/renewal-info", body={"issuer": issuer}))
        return answers

    answers = asyncio.run(calls())
    assert [status for status, _ in answers[:-1]] == [400, 400, 400, 400, 400, 400, 404, 400, 400], answers
    assert answers[-1][0] == 200
    assert json.loads(answers[-1][1])["count"] >= 0
    code, out = fleet.admin.admin_cli("acme", "renewal-window", "--serial", "1", "--issuer", issuer, "--now",
                                      check=False)
    assert code != 0
    assert "not both" in out
    code, out = fleet.admin.admin_cli("acme", "renewal-window", "--serial", "1", check=False)
    assert code != 0
    assert "--now" in out
    anonymous = fleet.ca.server.cli("acme", "renewal-window", "--serial", "1", "--now", check=False)
    assert anonymous.returncode != 0


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_serve_refuses_a_profile_the_claims_do_not_admit(tmp_path: Path, backend: str) -> None:
    db, drop = fresh_db_config(backend, tmp_path)
    server = init_ca(tmp_path / "ca", db)

    def bad(document: dict[str, Any]) -> None:
        for provisioner in document["authority"]["provisioners"]:
            if provisioner["name"] == "acme":
                provisioner["profiles"] = {"year": {"validity": "8760h"}}

    server.edit_config(bad)
    try:
        refused = r"authority\.provisioners\[1\]\.profiles\.year\.validity: .*outside the provisioner's claims"
        with pytest.raises(AssertionError, match=refused):
            server.start()
    finally:
        server.stop()
        drop()
