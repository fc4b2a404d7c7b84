"""``GET /metrics``: one process's registry plus the scrape-time families, or every worker's files added up.

The graph is the production one on a fresh SQLite database. The workers of the multiprocess case are two
short-lived interpreters that import acmeca.metrics with PROMETHEUS_MULTIPROC_DIR set, as a worker does.
"""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from acmeca.config import load_config
from acmeca.domain.errors import ServiceUnavailable
from acmeca.server.graph import GraphOptions, ServiceGraph, service_graph
from acmeca.server.metrics_endpoint import (
    MULTIPROCESS_ENV,
    MetricsEndpoint,
    multiprocess_directory,
    scraped_families,
    worker_environment,
    worker_exited,
)
from acmeca.server.run import serve
from acmeca.store import jobs
from tests.support.ca_server import free_port
from tests.support.databases import fresh_db_config
from tests.support.inprocess import PASSWORD, CAHome, write_ca

Scrape = dict[str, list[tuple[dict[str, str], float]]]


def parse(text: str) -> Scrape:
    return {f.name: [(dict(s.labels), s.value) for s in f.samples] for f in text_string_to_metric_families(text)}


@pytest.fixture
def ca(tmp_path: Path) -> CAHome:
    db, _drop = fresh_db_config("sqlite", tmp_path)
    return write_ca(tmp_path / "ca", db, address=f"127.0.0.1:{free_port()}",
                    metrics={"address": f"127.0.0.1:{free_port()}"})


@pytest.fixture
async def graph(ca: CAHome) -> AsyncIterator[ServiceGraph]:
    options = GraphOptions(background=False, cpu_workers=1)
    async with service_graph(load_config(ca.config_path), PASSWORD, options=options) as built:
        yield built


async def test_scrape_time_families_read_the_pki_and_the_jobs_table(graph: ServiceGraph) -> None:
    scraped = parse((await MetricsEndpoint(graph).render()).decode())
    expiry = {labels["role"]: value for labels, value in scraped["acmeca_ca_certificate_not_after_seconds"]}
    assert graph.tls is not None
    assert graph.tls.current is not None
    assert expiry == {
        "root": graph.trust.roots[0].not_valid_after_utc.timestamp(),
        "intermediate": graph.engine.authority.certificate.not_valid_after_utc.timestamp(),
        "tls": graph.tls.current.not_after.timestamp(),
    }
    assert scraped["acmeca_jobs_pending"] == [({}, 0.0)]
    async with graph.database.write() as tx:
        await jobs.enqueue(tx, kind="validate", subject_id="c1", payload={}, now=datetime.now(UTC))
    assert parse((await MetricsEndpoint(graph).render()).decode())["acmeca_jobs_pending"] == [({}, 1.0)]
    assert "process_cpu_seconds" in scraped, "one process: prometheus-client's process families are there"


def _fake_workers(directory: Path, count: int) -> list[int]:
    """Interpreters that record what a worker records at start, then exit; their pids."""
    code = ("import os, sys; from acmeca import metrics; metrics.WORKERS.set(1); metrics.NONCE_REJECTIONS.inc(); "
            "metrics.DATABASE_UP.set(int(sys.argv[1])); print(os.getpid())")
    environment = worker_environment(directory)
    assert environment is not None
    assert environment[MULTIPROCESS_ENV] == str(directory)
    return [int(subprocess.run([sys.executable, "-c", code, str(up)], env=environment, check=True,
                               capture_output=True, text=True).stdout) for up in range(count)]


async def test_workers_are_added_up_and_a_dead_one_drops_its_gauges(graph: ServiceGraph) -> None:
    with multiprocess_directory(True) as directory:
        assert directory is not None
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        dead, _alive = _fake_workers(directory, 2)
        endpoint = MetricsEndpoint(graph, directory)
        scraped = parse((await endpoint.render()).decode())
        assert scraped["acmeca_workers"] == [({}, 2.0)]
        assert scraped["acmeca_nonce_rejections"] == [({}, 2.0)]
        assert scraped["acmeca_database_up"] == [({}, 0.0)], "the lowest worker's value"
        assert not [name for name in scraped if name.startswith(("process_", "python_"))]
        worker_exited(directory, dead)
        scraped = parse((await endpoint.render()).decode())
        assert scraped["acmeca_workers"] == [({}, 1.0)]
        assert scraped["acmeca_nonce_rejections"] == [({}, 2.0)], "a dead worker's counts stay in the totals"
        assert scraped["acmeca_database_up"] == [({}, 1.0)]
    assert not directory.exists()
    assert worker_environment(None) is None


async def test_one_process_serves_its_own_metrics(ca: CAHome) -> None:
    config = load_config(ca.config_path)
    ready = asyncio.Event()
    server = asyncio.create_task(serve(config, PASSWORD, ready=lambda _address: ready.set()))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        async with aiohttp.ClientSession() as session, session.get(
            f"http://{config.metrics.address}/metrics"
        ) as reply:
            assert reply.status == 200
            scraped = parse(await reply.text())
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    assert scraped["acmeca_workers"] == [({}, 1.0)]
    assert "acmeca_http_requests" in scraped
    assert "process_cpu_seconds" in scraped
    assert "python_info" in scraped
    assert [role for role, _ in scraped["acmeca_ca_certificate_not_after_seconds"]] == [
        {"role": "root"}, {"role": "intermediate"}, {"role": "tls"},
    ]


class _Unavailable:
    def read(self) -> Any:
        raise ServiceUnavailable("the database is unavailable, try again", retry_after=timedelta(seconds=5))


def _certificate(not_after: datetime) -> Any:
    return SimpleNamespace(not_valid_after_utc=not_after)


async def test_pending_jobs_are_left_out_while_the_database_is_unavailable() -> None:
    early, late = datetime(2030, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)
    graph = SimpleNamespace(
        trust=SimpleNamespace(roots=[_certificate(late), _certificate(early)]),
        engine=SimpleNamespace(authority=SimpleNamespace(certificate=_certificate(early))),
        tls=None, database=_Unavailable(),
    )
    families = await scraped_families(cast(ServiceGraph, graph))
    assert [f.name for f in families] == ["acmeca_ca_certificate_not_after_seconds"]
    assert [(s.labels["role"], s.value) for s in families[0].samples] == [
        ("root", early.timestamp()), ("intermediate", early.timestamp()),
    ], "the earliest root; no TLS certificate in this process"
