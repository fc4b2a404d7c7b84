"""``GET /metrics``: the Prometheus exposition, on its own plain-HTTP listener (ca.json ``metrics.address``).

One process serves it: ``acmeca serve`` itself with one worker, the supervisor with ``--workers N``. In the
second case the workers run prometheus-client's multiprocess mode: the supervisor starts each one with
``PROMETHEUS_MULTIPROC_DIR`` naming a fresh 0700 directory (read by prometheus-client when it is first
imported, so it must be in the worker's environment from the start), each worker writes its values there,
and the supervisor adds them up with ``MultiProcessCollector`` and calls ``mark_process_dead`` for every
worker that exits, so the gauges of a dead worker disappear while the counters keep its totals. That mode
has no ``process_*`` or ``python_*`` families (they describe one process); the supervisor's own work (the
CA's TLS certificate it issues) is not counted either.

Two families are read when scraped rather than counted: ``acmeca_jobs_pending`` (rows in the jobs table;
left out while the database is unavailable) and ``acmeca_ca_certificate_not_after_seconds``.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from acmeca.domain.errors import ServiceUnavailable
from acmeca.server.graph import ServiceGraph
from acmeca.store import jobs

log = logging.getLogger(__name__)
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _Families:
    """A collector over families computed before the scrape (collectors are synchronous; the database is not)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


async def scraped_families(graph: ServiceGraph) -> list[Metric]:
    """The families read from the database and the PKI at scrape time."""
    not_after = GaugeMetricFamily(
        "acmeca_ca_certificate_not_after_seconds",
        "When a CA certificate expires (Unix time): the root (the earliest, with several), the intermediate that "
        "signs, and the CA's own TLS certificate.", labels=["role"],
    )
    not_after.add_metric(["root"], min(c.not_valid_after_utc for c in graph.trust.roots).timestamp())
    not_after.add_metric(["intermediate"], graph.engine.authority.certificate.not_valid_after_utc.timestamp())
    if graph.tls is not None and graph.tls.current is not None:
        not_after.add_metric(["tls"], graph.tls.current.not_after.timestamp())
    families: list[Metric] = [not_after]
    try:
        async with graph.database.read() as tx:
            count = await jobs.pending(tx)
    except ServiceUnavailable:
        return families
    pending = GaugeMetricFamily("acmeca_jobs_pending", "Background jobs (validations, finalizations) not yet done.")
    pending.add_metric([], count)
    return [*families, pending]


class MetricsEndpoint:
    """Renders the exposition: this process's registry, or every worker's files when given their directory."""

    def __init__(self, graph: ServiceGraph, multiprocess_dir: Path | None = None) -> None:
        self._graph = graph
        if multiprocess_dir is None:
            self._recorded: CollectorRegistry = REGISTRY
        else:
            self._recorded = CollectorRegistry()
            MultiProcessCollector(self._recorded, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]

    async def render(self) -> bytes:
        scraped = CollectorRegistry()
        scraped.register(_Families(await scraped_families(self._graph)))
        return generate_latest(self._recorded) + generate_latest(scraped)

    async def handle(self, _request: web.Request) -> web.Response:
        response = web.Response(body=await self.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


@asynccontextmanager
async def serving_metrics(
    graph: ServiceGraph, listener: socket.socket | None, *, multiprocess_dir: Path | None = None
) -> AsyncIterator[None]:
    """Serve ``GET /metrics`` on ``listener`` (bound by the caller, before any work) for the block's life."""
    if listener is None:
        yield
        return
    app = web.Application()
    app.router.add_get("/metrics", MetricsEndpoint(graph, multiprocess_dir).handle, name="metrics")
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    log.info("serving metrics", extra={"address": graph.config.metrics.address,
                                       "multiprocess": multiprocess_dir is not None})
    try:
        yield
    finally:
        await runner.cleanup()


@contextmanager
def multiprocess_directory(enabled: bool) -> Iterator[Path | None]:
    """A fresh 0700 directory for the workers' metric files, removed afterwards; None when metrics are off."""
    if not enabled:
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix="acmeca-metrics-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def worker_environment(multiprocess_dir: Path | None) -> dict[str, str] | None:
    """A worker's environment: ours, plus the metrics directory when there is one (None: inherit ours)."""
    if multiprocess_dir is None:
        return None
    return {**os.environ, MULTIPROCESS_ENV: str(multiprocess_dir)}


def worker_exited(multiprocess_dir: Path | None, pid: int | None) -> None:
    """Drop a dead worker's live gauges (its counters stay in the totals)."""
    if multiprocess_dir is not None and pid is not None:
        mark_process_dead(pid, str(multiprocess_dir))  # type: ignore[no-untyped-call]
