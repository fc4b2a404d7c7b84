"""The Prometheus metric families acmeca records where things happen (a leaf: any layer may import it).

Families are module-level objects on prometheus-client's default registry, unlike services, which are built
by the composition root: prometheus-client's multiprocess mode (``serve --workers``) keeps one set of files
per process, written by whatever objects that process holds, so a per-graph registry would buy nothing and
lose the aggregation. Call sites only count; who exposes the values is :mod:`acmeca.server.metrics_endpoint`.

Gauges read from the database or the PKI at scrape time (pending jobs, CA certificate expiry) are not here:
the process that serves ``/metrics`` computes them when it is scraped.

In multiprocess mode a gauge needs a rule for combining the processes' values: ``acmeca_workers`` adds the
live processes' 1s (the number of workers), ``acmeca_database_up`` takes the lowest (one worker that cannot
reach the database makes it 0). The ``live`` modes drop a process's value once the supervisor has called
``mark_process_dead`` for it.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# How each HTTP method is labelled; anything else is "other", so a client cannot mint label values.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"  # a request no route answers (404, 405)

HTTP_REQUESTS = Counter(
    "acmeca_http_requests", "HTTP requests answered, by front end, route name, method and status class.",
    ["front_end", "route", "method", "code_class"],
)
HTTP_REQUEST_DURATION = Histogram(
    "acmeca_http_request_duration_seconds", "Time to answer an HTTP request, by front end and route name.",
    ["front_end", "route"],
)
CERTIFICATES_ISSUED = Counter(
    "acmeca_certificates_issued", "Certificates issued, by provisioner name and type (empty for the CA's own).",
    ["provisioner", "provisioner_type"],
)
CERTIFICATES_REVOKED = Counter(
    "acmeca_certificates_revoked", "Certificates revoked, by the provisioner that issued them.",
    ["provisioner", "provisioner_type"],
)
VALIDATIONS = Counter(
    "acmeca_validations", "ACME challenge validations run, by challenge type and outcome (valid, invalid).",
    ["type", "outcome"],
)
VALIDATION_DURATION = Histogram(
    "acmeca_validation_duration_seconds", "Time one challenge validation took (CAA check included).", ["type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
JOB_LEASE_TAKEOVERS = Counter(
    "acmeca_job_lease_takeovers", "Background jobs claimed after another process's lease on them expired.",
)
RATE_LIMIT_REFUSALS = Counter("acmeca_rate_limit_refusals", "ACME requests refused by a rate limit.")
NONCE_REJECTIONS = Counter(
    "acmeca_nonce_rejections", "ACME requests refused for their nonce (missing, forged, expired or used).",
)
DATABASE_ERRORS = Counter(
    "acmeca_database_errors", "Database operations that failed because the database was unavailable.",
)
DATABASE_UP = Gauge(
    "acmeca_database_up", "1 while the database serves this process, 0 during an outage.",
    multiprocess_mode="livemin",
)
WORKERS = Gauge("acmeca_workers", "Server processes answering requests.", multiprocess_mode="livesum")


def code_class(status: int) -> str:
    """``2xx`` for 201: the status class keeps the label set small."""
    return f"{status // 100}xx"


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else "other"
