"""Monitoring a real ``acmeca serve --workers 2``: one ``/metrics`` scrape for every worker, and JSON logs.

One SQLite-backed server serves the module with ``metrics.address`` set and ``logger.format`` json. The first
test drives an ACME http-01 issuance, a revocation and a ``/1.0/sign`` through it, then scrapes the
supervisor's listener and parses the exposition with prometheus-client's own parser; the second kills a worker;
the last reads the whole log as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from prometheus_client.parser import text_string_to_metric_families

from acmeca.cli.devdns.server import DNSServer
from tests.integration.acme.conftest import Http01Responder
from tests.integration.acme.test_live import _obtain
from tests.integration.core.test_workers import wait_for_log
from tests.integration.step.test_wire import csr_pem, mint, sign
from tests.support.acme_client import AccountKey, AcmeClient
from tests.support.ca_server import CAServer, free_port, init_ca
from tests.support.databases import fresh_db_config

FAMILIES = (
    "acmeca_http_requests", "acmeca_http_request_duration_seconds", "acmeca_certificates_issued",
    "acmeca_certificates_revoked", "acmeca_validations", "acmeca_validation_duration_seconds", "acmeca_jobs_pending",
    "acmeca_job_lease_takeovers", "acmeca_rate_limit_refusals", "acmeca_nonce_rejections",
    "acmeca_database_errors", "acmeca_database_up", "acmeca_ca_certificate_not_after_seconds", "acmeca_workers",
)
Samples = dict[str, list[tuple[dict[str, str], float]]]


@dataclass
class Monitored:
    server: CAServer
    dns: DNSServer
    http01_port: int
    metrics_port: int


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    tmp = tmp_path_factory.mktemp("monitoring")
    db, drop = fresh_db_config("sqlite", tmp)
    server = init_ca(tmp / "ca", db)
    server.serve_args = ("--workers", "2")
    http01_port, metrics_port = free_port(), free_port()
    with DNSServer() as dns:
        server.edit_config(lambda d: d.update({
            "validation": {"resolver": f"127.0.0.1:{dns.port}", "http01Port": http01_port, "timeout": "2s"},
            "logger": {"format": "json"}, "metrics": {"address": f"127.0.0.1:{metrics_port}"},
        }))
        server.start()
        wait_for_log(server, "workers started")
        yield Monitored(server, dns, http01_port, metrics_port)
        server.stop()
    drop()


@dataclass
class _Live:
    """What ``_obtain`` reads."""

    dns: DNSServer
    http01: Http01Responder


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"User-Agent": "acmeca-tests"}) as opened:
        yield opened


async def scrape(session: aiohttp.ClientSession, port: int) -> Samples:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as reply:
        assert reply.status == 200
        assert reply.content_type == "text/plain"
        text = await reply.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        samples[family.name] = [(dict(s.labels), s.value) for s in family.samples if s.name.endswith(
            ("_total", "_count")) or family.type == "gauge"]
    return samples


def value(samples: Samples, family: str, **labels: str) -> float:
    """The sum over the samples of ``family`` whose labels include ``labels``."""
    return sum(v for found, v in samples[family] if labels.items() <= found.items())


def log_objects(server: CAServer) -> list[dict[str, Any]]:
    """Every line of the log but the CLI's one banner on stdout, each parsed as a JSON object."""
    banner = f"acmeca is serving on https://localhost:{server.port}"
    objects = []
    for line in server.log().splitlines():
        if line == banner:
            continue
        parsed = json.loads(line)
        assert isinstance(parsed, dict), line
        objects.append(parsed)
    return objects


async def test_one_scrape_shows_every_worker(monitored: Monitored, session: aiohttp.ClientSession) -> None:
    server = monitored.server
    tls = ssl.create_default_context(cafile=str(server.root_path))
    responder = Http01Responder(port=monitored.http01_port)
    await responder.start()
    try:
        client = AcmeClient(session, f"{server.url}/acme/acme/directory", key=AccountKey.generate(), ssl_context=tls)
        assert (await client.register()).status == 201
        chain = await _obtain(_Live(monitored.dns, responder), client, ["metrics.test"], "http-01")
    finally:
        await responder.stop()
    assert (await client.revoke(chain[0].public_bytes(serialization.Encoding.DER))).status == 200
    nonce = await client.nonce()
    assert (await client.post(client.kid or "", None, retry_bad_nonce=False, nonce_override=nonce)).status == 200
    replay = await client.post(client.kid or "", None, retry_bad_nonce=False, nonce_override=nonce)
    assert replay.problem_type == "badNonce"
    assert sign(server, {"csr": csr_pem("m.local", ["m.local"]), "ott": mint(server, "m.local")}).status == 201
    async with session.get(f"{server.url}/no-such-route", ssl=tls) as missing:
        assert missing.status == 404

    samples = await scrape(session, monitored.metrics_port)
    assert set(FAMILIES) <= set(samples), sorted(set(FAMILIES) - set(samples))
    assert not [name for name in samples if name.startswith(("process_", "python_"))]
    assert value(samples, "acmeca_workers") == 2
    assert value(samples, "acmeca_database_up") == 1
    assert value(samples, "acmeca_certificates_issued", provisioner="acme", provisioner_type="ACME") == 1
    assert value(samples, "acmeca_certificates_issued", provisioner="admin", provisioner_type="JWK") == 1
    assert value(samples, "acmeca_certificates_issued", provisioner="") == 0, "the supervisor's TLS certificate"
    assert value(samples, "acmeca_certificates_revoked", provisioner="acme", provisioner_type="ACME") == 1
    assert value(samples, "acmeca_validations", type="http-01", outcome="valid") == 1
    assert value(samples, "acmeca_validation_duration_seconds", type="http-01") == 1  # the histogram's _count
    assert value(samples, "acmeca_nonce_rejections") == 1
    assert value(samples, "acmeca_jobs_pending") == 0
    requests = "acmeca_http_requests"
    assert value(samples, requests, front_end="step", route="v1.sign", method="POST", code_class="2xx") == 1
    assert value(samples, requests, front_end="acme", route="new-order", method="POST", code_class="2xx") == 1
    assert value(samples, requests, front_end="acme", route="account", code_class="4xx") == 1
    assert value(samples, requests, front_end="step", route="unmatched", method="GET", code_class="4xx") == 1
    assert value(samples, "acmeca_http_request_duration_seconds", front_end="step", route="v1.sign") == 1
    assert not [labels for labels, _ in samples[requests] if "/" in labels["route"]], "route names, never paths"
    now = datetime.now(UTC).timestamp()
    expiry = {labels["role"]: v for labels, v in samples["acmeca_ca_certificate_not_after_seconds"]}
    assert set(expiry) == {"root", "intermediate", "tls"}
    assert now < expiry["tls"] <= expiry["intermediate"] <= expiry["root"]


async def test_a_killed_worker_keeps_its_counts_and_drops_its_gauges(
    monitored: Monitored, session: aiohttp.ClientSession
) -> None:
    server = monitored.server
    before = await scrape(session, monitored.metrics_port)
    started = [o for o in log_objects(server) if o["message"] == "workers started"][-1]
    os.kill(started["pids"][0], signal.SIGKILL)
    wait_for_log(server, "worker restarted")
    after = await scrape(session, monitored.metrics_port)
    assert value(after, "acmeca_workers") == 2, "mark_process_dead dropped the dead worker's 1"
    for family in ("acmeca_certificates_issued", "acmeca_validations", "acmeca_nonce_rejections"):
        assert value(after, family) == value(before, family) > 0, family
    assert value(after, "acmeca_http_requests") >= value(before, "acmeca_http_requests")


def test_every_log_line_is_one_json_object(monitored: Monitored) -> None:
    """Runs after the others: their requests, issuances and revocation are in the log."""
    objects = log_objects(monitored.server)
    assert all({"time", "level", "logger", "message", "request_id"} <= o.keys() for o in objects)
    assert all(datetime.fromisoformat(o["time"]).utcoffset() == timedelta(0) for o in objects)
    access = [o for o in objects if o["logger"] == "acmeca.access"]
    assert access
    assert all(isinstance(o["request_id"], str) and o["worker"] in (0, 1) for o in access)
    assert objects[0]["request_id"] is None, "a line logged outside any request"
    audit = {o["event"]: o for o in objects if o["logger"] == "acmeca.audit"}
    fields = {"event", "serial", "identifiers", "requester_kind", "requester_id", "provisioner"}
    issued = next(o for o in objects if o.get("event") == "issue" and o["provisioner"] == "admin")
    assert fields <= issued.keys()
    assert issued["message"] == "certificate issued"
    assert issued["serial"].isdigit()
    assert issued["identifiers"] == ["m.local"]
    assert (issued["requester_kind"], issued["provisioner"]) == ("provisioner", "admin")
    sign_request = next(o for o in access if o["request_id"] == issued["request_id"])
    assert sign_request["path"] == "/1.0/sign", "the audit line carries the id of the request that caused it"
    own = next(o for o in objects if o.get("event") == "issue" and o["requester_kind"] == "ca")
    assert (own["provisioner"], own["requester_id"]) == (None, "tls"), "the CA's own TLS certificate"
    revoked = audit["revoke"]
    assert fields <= revoked.keys()
    assert revoked["message"] == "certificate revoked"
    assert revoked["serial"].isdigit()
    assert revoked["identifiers"] == ["metrics.test"]
    assert (revoked["requester_kind"], revoked["provisioner"]) == ("acme-account", "acme")
    assert revoked["request_id"] in {o["request_id"] for o in access if "/revoke-cert" in o["path"]}
