"""SIGHUP on a real ``acmeca serve``: every reloadable section reaches the next request; a bad file changes nothing.

One server per module (reloading is the same on both databases); each test changes ca.json, sends SIGHUP,
waits for the reload to be logged, checks the next request, and puts the file back. ``workers`` is a
parameter so the same tests run against ``serve --workers N`` once it exists.
"""

from __future__ import annotations

import json
import signal
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from cryptography import x509

from acmeca.acme.service.renewal_info import encode_cert_id
from acmeca.cli.devdns.server import DNSServer
from tests.integration.acme.conftest import Http01Responder
from tests.integration.acme.test_live import _obtain
from tests.support.acme_client import AccountKey, AcmeClient, make_csr
from tests.support.ca_server import CAServer, free_port, init_ca, run_cli
from tests.support.databases import fresh_db_config

RELOADED = "configuration reloaded"
NOT_RELOADED = "configuration not reloaded"


@dataclass
class ReloadEnv:
    server: CAServer
    dns: DNSServer
    http01: Http01Responder
    session: aiohttp.ClientSession
    tls: ssl.SSLContext
    dead_port: int
    workers: int

    @property
    def reloads_per_signal(self) -> int:
        """Each worker reloads; with more than one, so does the supervisor (it issues the TLS certificate)."""
        return self.workers + 1 if self.workers > 1 else 1

    def client(self, provisioner: str = "acme") -> AcmeClient:
        url = f"https://localhost:{self.server.port}/acme/{provisioner}/directory"
        return AcmeClient(self.session, url, key=AccountKey.generate(), ssl_context=self.tls)

    def sighup(self, marker: str = RELOADED) -> str:
        """Send SIGHUP and return the log written after it, once every process has logged ``marker``."""
        assert self.server.process is not None
        before = len(self.server.log())
        self.server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            tail = self.server.log()[before:]
            if tail.count(marker) >= self.reloads_per_signal:
                return tail
            time.sleep(0.05)
        raise AssertionError(f"no {marker!r} after SIGHUP:\n{self.server.log()[before:]}")

    def change(self, edit: Callable[[dict[str, Any]], None], marker: str = RELOADED) -> str:
        self.server.edit_config(edit)
        return self.sighup(marker)

    def acme(self, document: dict[str, Any]) -> dict[str, Any]:
        return next(p for p in document["authority"]["provisioners"] if p["name"] == "acme")

    async def get(self, path: str) -> aiohttp.ClientResponse:
        async with self.session.get(f"https://localhost:{self.server.port}{path}", ssl=self.tls) as response:
            await response.read()
            return response


@pytest.fixture(scope="module", params=[1, 2], ids=lambda n: f"workers={n}")
def workers(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture(scope="module")
def reload_server(workers: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CAServer, DNSServer]]:
    tmp = tmp_path_factory.mktemp("reload")
    db, drop = fresh_db_config("sqlite", tmp)
    server = init_ca(tmp / "ca", db)
    server.serve_args = ("--workers", str(workers))
    with DNSServer() as dns:
        yield server, dns
    server.stop()
    drop()


@pytest.fixture
async def env(reload_server: tuple[CAServer, DNSServer], workers: int) -> AsyncIterator[ReloadEnv]:
    """The module's server, started on first use with known validation settings; ca.json restored after."""
    server, dns = reload_server
    responder = Http01Responder(port=free_port())
    await responder.start()
    dead_port = free_port()

    def baseline(document: dict[str, Any]) -> None:
        document["validation"] = {"resolver": f"127.0.0.1:{dns.port}", "http01Port": responder.port, "timeout": "2s"}
        document["logger"] = {"format": "text"}

    server.edit_config(baseline)
    original = server.config()
    tls = ssl.create_default_context(cafile=str(server.root_path))
    async with aiohttp.ClientSession(headers={"User-Agent": "acmeca-tests"}) as session:
        live = ReloadEnv(server, dns, responder, session, tls, dead_port, workers)
        if server.process is None:
            server.start()
        else:
            live.sighup()
        try:
            yield live
        finally:
            await responder.stop()
            server.edit_config(lambda document: (document.clear(), document.update(original)))
            live.sighup()


async def _http01_outcome(env: ReloadEnv, name: str) -> str:
    """newOrder for ``name``, answer http-01 on the responder, return the authorization's final status."""
    client = env.client()
    assert (await client.register()).status == 201
    reply = await client.new_order([{"type": "dns", "value": name}])
    assert reply.status == 201, reply.body
    return await _http01_answer(env, client, reply.json()["authorizations"][0], name)


async def _http01_answer(env: ReloadEnv, client: AcmeClient, authz_url: str, name: str) -> str:
    authz = (await client.get(authz_url)).json()
    challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
    env.dns.store.add(name, "A", "127.0.0.1")
    env.http01.answers[challenge["token"]] = f"{challenge['token']}.{client.key.thumbprint}"
    assert (await client.post(challenge["url"], {})).status == 200
    return str((await client.poll(authz_url, until=("valid", "invalid"), patience=20)).json()["status"])


async def test_top_level_validation_port(env: ReloadEnv) -> None:
    env.change(lambda d: d["validation"].update({"http01Port": env.dead_port}))
    assert await _http01_outcome(env, "port-before.test") == "invalid"
    env.change(lambda d: d["validation"].update({"http01Port": env.http01.port}))
    assert await _http01_outcome(env, "port-after.test") == "valid"


async def test_top_level_resolver(env: ReloadEnv) -> None:
    env.change(lambda d: d["validation"].update({"resolver": f"127.0.0.1:{env.dead_port}", "timeout": "1s"}))
    assert await _http01_outcome(env, "resolver-before.test") == "invalid"
    env.change(lambda d: d["validation"].update({"resolver": f"127.0.0.1:{env.dns.port}"}))
    assert await _http01_outcome(env, "resolver-after.test") == "valid"


async def test_per_provisioner_validation(env: ReloadEnv) -> None:
    env.change(lambda d: d["validation"].update({"http01Port": env.dead_port}))
    env.change(lambda d: env.acme(d).update({"validation": {"http01Port": env.http01.port}}))
    assert await _http01_outcome(env, "provisioner-override.test") == "valid"


async def test_provisioners(env: ReloadEnv) -> None:
    assert (await env.get("/acme/late/directory")).status == 404
    log = env.change(lambda d: d["authority"]["provisioners"].append({"type": "ACME", "name": "late"}))
    assert "authority.provisioners" in log
    assert (await env.get("/acme/late/directory")).status == 200


async def test_profiles(env: ReloadEnv) -> None:
    env.change(lambda d: env.acme(d).update({"profiles": {"brief": {"description": "Short", "validity": "1h"}}}))
    directory = await env.client().directory()
    assert directory["meta"]["profiles"]["brief"] == "Short"


async def test_policy(env: ReloadEnv) -> None:
    env.change(lambda d: d["authority"].update({"policy": {"x509": {"deny": {"dns": ["*.denied.test"]}}}}))
    client = env.client()
    await client.register()
    reply = await client.new_order([{"type": "dns", "value": "a.denied.test"}])
    assert (reply.status, reply.problem_type) == (400, "rejectedIdentifier")


async def test_rate_limits(env: ReloadEnv) -> None:
    env.change(lambda d: env.acme(d).update({"rateLimits": {"newAccountsPerIP": "1/1h"}}))
    assert (await env.client().register()).status == 201
    refused = await env.client().register()
    assert (refused.status, refused.problem_type) == (429, "rateLimited")


async def test_renewal_info(env: ReloadEnv) -> None:
    client = env.client()
    await client.register()
    env.http01.answers.clear()
    chain = await _obtain(_LiveShim(env), client, ["ari.test"], "http-01")
    aki = chain[0].extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki is not None
    path = f"/acme/acme/renewal-info/{encode_cert_id(aki, chain[0].serial_number)}"
    env.change(lambda d: env.acme(d).update({"renewalInfo": {"retryAfter": "2h"}}))
    assert (await env.get(path)).headers["Retry-After"] == "7200"
    env.change(lambda d: env.acme(d).update({"renewalInfo": {"retryAfter": "3h"}}))
    assert (await env.get(path)).headers["Retry-After"] == "10800"


async def test_caa_recheck_after(env: ReloadEnv) -> None:
    env.change(lambda d: env.acme(d).update({"caaIdentities": ["ca.test"]}))
    client = env.client()
    await client.register()
    name = "caa-recheck.test"
    reply = await client.new_order([{"type": "dns", "value": name}])
    order_url = reply.headers["Location"]
    authz = (await client.get(reply.json()["authorizations"][0])).json()
    challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
    env.dns.store.add(name, "A", "127.0.0.1")
    env.http01.answers[challenge["token"]] = f"{challenge['token']}.{client.key.thumbprint}"
    await client.post(challenge["url"], {})
    order = (await client.poll(order_url, until=("ready", "invalid"), patience=20)).json()
    assert order["status"] == "ready", order
    env.dns.store.add(name, "CAA", '0 issue "other.example"')  # CAA changed after validation
    env.change(lambda d: d["validation"].update({"caaRecheckAfter": "1ms"}))  # default 7h: no recheck
    finalized = await client.finalize(order, make_csr([name])[0])
    assert (finalized.status, finalized.problem_type) == (403, "caa"), finalized.body


async def test_logger_format_and_level(env: ReloadEnv) -> None:
    env.change(lambda d: d.update({"logger": {"format": "json", "level": "info"}}))
    before = len(env.server.log())
    assert (await env.get("/health")).status == 200
    lines = [line for line in env.server.log()[before:].splitlines() if line.strip()]
    assert lines, "the request was logged"
    assert all(isinstance(json.loads(line), dict) for line in lines)
    env.change(lambda d: d.update({"logger": {"format": "json", "level": "warning"}}))
    before = len(env.server.log())
    assert (await env.get("/health")).status == 200
    assert env.server.log()[before:].strip() == "", "access lines are info: not written at warning"


async def test_intermediate_rotation(env: ReloadEnv) -> None:
    """``acmeca intermediate rotate`` + SIGHUP: every process serves both intermediates, signs with the new one,
    and still serves an older certificate with the intermediate that signed it."""
    home = env.server.home
    crt, key_path = home / "certs" / "intermediate_ca.crt", home / "secrets" / "intermediate_ca_key"
    old_crt, old_key = crt.read_bytes(), key_path.read_bytes()
    old = x509.load_pem_x509_certificate(old_crt)
    client = env.client()
    await client.register()
    env.http01.answers.clear()
    before, before_url = await _obtain_with_url(env, client, "pre-rotation.test")
    try:
        run_cli("intermediate", "rotate", "--root-password-file", str(env.server.password_file), env=env.server.env)
        rotated = x509.load_pem_x509_certificate(crt.read_bytes())
        root = x509.load_pem_x509_certificate(env.server.root_path.read_bytes())
        assert rotated.not_valid_after_utc == root.not_valid_after_utc  # ten years by default, capped at the root
        log = env.sighup()
        assert "intermediate" in log
        for _ in range(2 * env.workers):  # whichever worker answers
            async with env.session.get(f"https://localhost:{env.server.port}/intermediates.pem", ssl=env.tls) as reply:
                served = x509.load_pem_x509_certificates(await reply.read())
            assert served == [rotated, old]
        chain = await _obtain(_LiveShim(env), client, ["rotated.test"], "http-01")
        chain[0].verify_directly_issued_by(rotated)
        again = x509.load_pem_x509_certificates((await client.get(before_url)).body)
        assert again == before
        assert again[1:] == [old]
    finally:
        crt.write_bytes(old_crt)
        key_path.write_bytes(old_key)
        for kept in (*home.glob("certs/intermediate_ca.*.crt"), *home.glob("secrets/intermediate_ca_key.*")):
            kept.unlink()


async def _obtain_with_url(env: ReloadEnv, client: AcmeClient, name: str) -> tuple[list[x509.Certificate], str]:
    """An http-01 order for ``name``, finalized: the chain and the certificate URL it can be fetched at again."""
    reply = await client.new_order([{"type": "dns", "value": name}])
    order_url = reply.headers["Location"]
    assert await _http01_answer(env, client, reply.json()["authorizations"][0], name) == "valid"
    order = (await client.poll(order_url, until=("ready", "invalid"), patience=20)).json()
    finalized = await client.finalize(order, make_csr([name])[0])
    assert finalized.status == 200, finalized.body
    done = (await client.poll(order_url, until=("valid", "invalid"), patience=20)).json()
    return x509.load_pem_x509_certificates((await client.get(done["certificate"])).body), done["certificate"]


async def test_bad_file_keeps_the_running_configuration(env: ReloadEnv) -> None:
    log = env.change(lambda d: d["validation"].update({"http01port": env.dead_port}), marker=NOT_RELOADED)
    assert "validation.http01port: unknown key (did you mean http01Port?)" in log
    assert RELOADED not in log.replace(NOT_RELOADED, "")
    assert "ERROR" in log
    assert await _http01_outcome(env, "still-old.test") == "valid"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["validation"].update({"resolver": "dns.google"}), "validation.resolver: "),
        (lambda d: d["validation"].update({"timeout": "ten seconds"}), "validation.timeout: must be a duration"),
        (lambda d: d["validation"].update({"http01Port": 0}), "validation.http01Port: must be a port number"),
        (lambda d: d.update({"address": "8443"}), "address: "),
        (lambda d: d["authority"]["provisioners"].append({"type": "Kerberos", "name": "k"}),
         "type: 'Kerberos' is not a provisioner type step-ca defines"),
        (lambda d: d["authority"]["provisioners"][0].update({"claims": {"maxTLSCertDuration": "forever"}}),
         "authority.provisioners[0].claims.maxTLSCertDuration: must be a duration"),
        (lambda d: d["authority"].update({"policy": {"x509": {"deny": {"ip": ["10.0.0.0/33"]}}}}),
         "authority.policy: "),
    ],
)
async def test_each_kind_of_bad_file_is_one_error_line(env: ReloadEnv, edit: Any, expected: str) -> None:
    log = env.change(edit, marker=NOT_RELOADED)
    error_lines = [line for line in log.splitlines() if NOT_RELOADED in line]
    assert len(error_lines) == env.reloads_per_signal  # one per process
    assert all(expected in line for line in error_lines)
    assert "Traceback" not in log
    assert (await env.get("/acme/acme/directory")).status == 200


async def test_settings_that_need_a_restart_are_named(env: ReloadEnv) -> None:
    log = env.change(lambda d: d.update({"dnsNames": ["localhost", "127.0.0.1", "ca.test"]}))
    assert "need a restart" in log
    assert "dnsNames" in log


@dataclass
class _LiveShim:
    """What ``_obtain`` reads from a LiveAcme."""

    env: ReloadEnv

    @property
    def dns(self) -> DNSServer:
        return self.env.dns

    @property
    def http01(self) -> Http01Responder:
        return self.env.http01

