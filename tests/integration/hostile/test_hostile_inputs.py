"""The hostile-input table: hundreds of malformed or malicious requests against one real in-process server.

One CA (SQLite, ACME + JWK provisioners, remote management on) serves the whole table over a real TLS socket.
Every row must get a status below 500 in its front end's own error format; afterwards the log holds no
"unhandled error" (or any other traceback), no row issued or stored anything, and a normal ACME issuance and
a normal /1.0/sign still work. Failures are collected per row and reported together.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk

from acmeca.crypto.keys import KeySpec, generate_key
from acmeca.server.graph import GraphOptions
from acmeca.store import schema
from acmeca.store.database import Database
from tests.integration.acme.inprocess.conftest import StubValidation
from tests.integration.hostile.acme_rows import acme_rows
from tests.integration.hostile.admin_rows import admin_rows
from tests.integration.hostile.harness import HostileEnv, Row, problem_with, send
from tests.integration.hostile.protocol_rows import protocol_rows
from tests.integration.hostile.step_rows import step_rows, token
from tests.support.acme_client import AccountKey, AcmeClient, make_csr
from tests.support.csr_versions import with_version
from tests.support.databases import fresh_db_config
from tests.support.inprocess import serve_in_process, write_ca

ADMIN_SUBJECT = "ops"
TABLE: list[Row] = [*acme_rows(), *step_rows(), *admin_rows(), *protocol_rows()]
COUNTED = (schema.certificates, schema.admins, schema.provisioners, schema.policies, schema.eab_keys,
           schema.acme_accounts)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> dict[str, Any]:
    return fresh_db_config("sqlite", tmp_path)[0]


@pytest.fixture
def server_log() -> Iterator[_Collector]:
    collector = _Collector()
    logging.getLogger().addHandler(collector)
    try:
        yield collector
    finally:
        logging.getLogger().removeHandler(collector)


@pytest.fixture
async def hostile(sqlite_db: dict[str, Any], tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[HostileEnv]:
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    provisioners = [{"type": "JWK", "name": "admin", "key": json.loads(key.export_public())},
                    {"type": "ACME", "name": "acme"}, {"type": "ACME", "name": "eab", "requireEAB": True}]
    ca = write_ca(tmp_path / "ca", sqlite_db, authority={
        "provisioners": provisioners, "enableAdmin": True, "adminSubject": ADMIN_SUBJECT})
    stub = StubValidation()
    options = GraphOptions(validation=stub.context(), poll_interval=0.05, server_tls=False, cpu_workers=2)
    async with serve_in_process(ca, aiohttp_server, options) as served, aiohttp.ClientSession(
        headers={"User-Agent": "acmeca-hostile-tests"}
    ) as session:
        client = AcmeClient(session, f"{served.base}/acme/acme/directory", key=AccountKey.generate())
        env = HostileEnv(base=served.base, session=session, client=client, paths={},
                         extras={"provisioner_key": key, "database": served.graph.database})
        await _prepare(env)
        yield env


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def _issue(env: HostileEnv, names: list[str]) -> tuple[dict[str, Any], bytes]:
    """A full ACME issuance for ``names``; returns the final order and the certificate's DER."""
    client = env.client
    reply = await client.new_order([{"type": "dns", "value": n} for n in names])
    assert reply.status == 201, reply.body
    order = {**reply.json(), "url": reply.headers["Location"]}
    for authz_url in order["authorizations"]:
        authz = (await client.get(authz_url)).json()
        if authz["status"] != "valid":
            assert (await client.post(authz["challenges"][0]["url"], {})).status == 200
    await client.poll(order["url"], until=("ready", "invalid"))
    finalized = await client.finalize(order, make_csr(names)[0])
    assert finalized.status == 200, finalized.body
    done = (await client.poll(order["url"], until=("valid", "invalid"))).json()
    pem = (await client.get(done["certificate"])).body
    return {**done, "url": order["url"]}, x509.load_pem_x509_certificates(pem)[0].public_bytes(
        serialization.Encoding.DER)


async def _prepare(env: HostileEnv) -> None:
    """An account with an issued certificate, a pending and a ready order, a spent nonce, an admin certificate."""
    client = env.client
    assert (await client.register()).status == 201
    issued, cert_der = await _issue(env, ["issued.test"])
    pending = await client.new_order([{"type": "dns", "value": "pending.test"}])
    authz_url = pending.json()["authorizations"][0]
    challenge_url = (await client.get(authz_url)).json()["challenges"][0]["url"]
    ready = await client.new_order([{"type": "dns", "value": "ready.test"}])
    ready_authz = (await client.get(ready.json()["authorizations"][0])).json()
    await client.post(ready_authz["challenges"][0]["url"], {})
    await client.poll(ready.headers["Location"], until=("ready",))
    spent = await client.nonce()
    assert (await client.post(client.kid or "", None, nonce_override=spent)).status == 200
    env.paths.update({
        "account": _path(client.kid or ""), "orders": _path(client.kid or "") + "/orders",
        "order": _path(pending.headers["Location"]), "finalize": _path(pending.json()["finalize"]),
        "authz": _path(authz_url), "challenge": _path(challenge_url), "cert": _path(issued["certificate"]),
        "ready_finalize": _path(ready.json()["finalize"]),
    })
    key = make_csr(["x.test"])[1]
    csr_der = make_csr(["ready.test"], key=key)[0]
    env.extras.update({
        "spent_nonce": spent, "cert_der": cert_der, "csr_der": csr_der,
        "other_csr_der": make_csr(["someone-else.test"])[0],
        "v2_csr_der": with_version(csr_der, key, 2, break_signature=True),
        "csr_pem": _pem(make_csr(["hostile.test"], cn="hostile.test")[0]),
    })
    await _admin_certificate(env)


def _pem(der: bytes) -> str:
    return x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM).decode()


async def _admin_certificate(env: HostileEnv) -> None:
    """The first admin's certificate, from /1.0/sign with a JWK token, as ``acmeca`` admin commands get one."""
    private = generate_key(KeySpec())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, ADMIN_SUBJECT)]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(ADMIN_SUBJECT)]), critical=False)
           .sign(private, _sha256()))
    ott = token(env, claims={"sub": ADMIN_SUBJECT, "sans": [ADMIN_SUBJECT], "jti": "admin-setup"})
    body = {"csr": csr.public_bytes(serialization.Encoding.PEM).decode(), "ott": ott}
    async with env.session.post(f"{env.base}/1.0/sign", json=body, ssl=False) as response:
        reply = await response.json()
        assert response.status == 201, reply
    chain = x509.load_pem_x509_certificates("".join(reply["certChain"]).encode())
    env.extras.update({"admin_chain": chain, "admin_key": private, "admin_subject": ADMIN_SUBJECT})


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _is_traceback(record: logging.LogRecord) -> bool:
    """A logged traceback, aiohttp's own included: a request its HTTP parser refuses is one plain line
    (acmeca.server.app.ParserRefusals), not an error anyone could fill the log with."""
    return record.getMessage() == "unhandled error" or bool(record.exc_info)


async def _counts(database: Database) -> dict[str, int]:
    async with database.read() as tx:
        return {t.name: int(await tx.scalar(sa.select(sa.func.count()).select_from(t)) or 0) for t in COUNTED}


async def test_hostile_inputs_never_crash_the_ca(hostile: HostileEnv, server_log: _Collector) -> None:
    print(f"hostile-input table: {len(TABLE)} rows")
    assert len(TABLE) >= 200
    assert len({row.id for row in TABLE}) == len(TABLE), "row ids must be unique"
    database: Database = hostile.extras["database"]
    before = await _counts(database)
    started = time.perf_counter()
    failures: list[str] = []
    for row in TABLE:
        try:
            answer = await send(hostile, row)
        except (aiohttp.ClientError, OSError) as exc:
            failures.append(f"{row.id}: the request could not be sent ({exc!r})")
            continue
        problem = problem_with(row, hostile.path(row.path), answer)
        if problem is not None:
            failures.append(f"{row.id}: {problem}")
    print(f"hostile-input table: sent in {time.perf_counter() - started:.1f}s")
    tracebacks = [f"{r.name}: {r.getMessage()} {r.exc_info[1] if r.exc_info else ''!r}"
                  for r in server_log.records if _is_traceback(r)]
    assert not failures, f"{len(failures)} of {len(TABLE)} rows failed:\n" + "\n".join(failures)
    assert not tracebacks, "the server logged tracebacks:\n" + "\n".join(tracebacks)
    assert await _counts(database) == before, "a hostile row changed the database"
    await _issue(hostile, ["after.test"])
    sign = {"csr": hostile.extras["csr_pem"], "ott": token(hostile, claims={"jti": "after-table"})}
    async with hostile.session.post(f"{hostile.base}/1.0/sign", json=sign, ssl=False) as response:
        assert response.status == 201, await response.text()
    after = await _counts(database)
    assert after["certificates"] == before["certificates"] + 2
