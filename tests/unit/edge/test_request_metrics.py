"""The access middleware: HTTP metrics labelled by front end and route name, and the request id on every line.

The application has the production route tables (step at "" and "/1.0", ACME and admin as sub-applications)
and build_app's root middlewares; no service is set, so a handler that needs one fails into the guard's 500,
which is still a request with a route.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from acmeca import metrics
from acmeca.acme.web.app import create_acme_app
from acmeca.admin.web.app import create_admin_app
from acmeca.edge.middleware import access_log, error_guard
from acmeca.logs import JSONFormatter, RequestIdFilter
from acmeca.step.web.errors import render_step_error
from acmeca.step.web.routes import add_step_routes

log = logging.getLogger("acmeca.test.edge")


async def _logs_twice(_request: web.Request) -> web.Response:
    log.info("first")
    log.info("second")
    return web.Response(text="ok")


def _app() -> web.Application:
    root = web.Application(middlewares=[access_log, error_guard(render_step_error)])
    add_step_routes(root, "")
    add_step_routes(root, "/1.0")
    root.router.add_get("/logs-twice", _logs_twice, name="logs-twice")
    root.add_subapp("/acme/", create_acme_app())
    root.add_subapp("/admin/", create_admin_app())
    return root


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(_app())) as test_client:
        yield test_client


def _count(front_end: str, route: str, method: str, code_class: str) -> float:
    labels = {"front_end": front_end, "route": route, "method": method, "code_class": code_class}
    return REGISTRY.get_sample_value("acmeca_http_requests_total", labels) or 0.0


@pytest.mark.parametrize(("method", "path", "labels"), [
    ("GET", "/version", ("step", "version", "GET", "2xx")),
    ("GET", "/1.0/version", ("step", "v1.version", "GET", "2xx")),
    ("GET", "/no-such-path", ("step", "unmatched", "GET", "4xx")),
    ("PROPFIND", "/version", ("step", "unmatched", "other", "4xx")),  # 405
    ("GET", "/acme/acme/no-such-resource", ("acme", "unmatched", "GET", "4xx")),
    ("HEAD", "/acme/acme/new-nonce", ("acme", "new-nonce", "HEAD", "5xx")),  # no nonce service here
    ("GET", "/admin/admins", ("admin", "admins", "GET", "5xx")),  # no admin services here
])
async def test_a_request_is_counted_under_its_route_name(
    client: TestClient[web.Request, web.Application], method: str, path: str, labels: tuple[str, str, str, str],
) -> None:
    before = _count(*labels)
    duration = "acmeca_http_request_duration_seconds_count"
    observed = REGISTRY.get_sample_value(duration, {"front_end": labels[0], "route": labels[1]}) or 0.0
    async with client.request(method, path, headers={"User-Agent": "tests"}) as response:
        await response.read()
    assert response.status // 100 == int(labels[3][0])
    assert _count(*labels) == before + 1
    assert REGISTRY.get_sample_value(duration, {"front_end": labels[0], "route": labels[1]}) == observed + 1


def test_every_route_has_a_name() -> None:
    apps = [_app(), create_acme_app(), create_admin_app()]
    unnamed = [
        resource.canonical for app in apps for resource in app.router.resources()
        if resource.name is None and not isinstance(resource, web.PrefixedSubAppResource)
    ]
    assert unnamed == []


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(RequestIdFilter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield stream
    log.removeHandler(handler)


async def test_every_line_of_a_request_names_its_id(
    client: TestClient[web.Request, web.Application], captured: io.StringIO
) -> None:
    async with client.get("/logs-twice") as response:
        rid = response.headers["X-Request-Id"]
    assert [json.loads(line)["request_id"] for line in captured.getvalue().splitlines()] == [rid, rid]


def test_labels_stay_few() -> None:
    assert [metrics.code_class(s) for s in (101, 200, 201, 304, 404, 503)] == ["1xx", "2xx", "2xx", "3xx", "4xx",
                                                                               "5xx"]
    assert [metrics.method_label(m) for m in ("GET", "POST", "BREW", "get")] == ["GET", "POST", "other", "other"]
