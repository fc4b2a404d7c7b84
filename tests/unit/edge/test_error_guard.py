"""The one last-resort guard: each front end answers an unexpected exception with a 500 in its own format.

The application is put together as ``build_app`` does it (access log and the step guard on the root, ACME and
admin as sub-applications with their own edge middleware), with a route in each front end whose handler
raises a bare RuntimeError. Only what the admin edge asks of the CA before a handler runs (the enableAdmin
switch, authentication) is stubbed: none of it is under test here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from acmeca.acme.web.app import acme_edge
from acmeca.admin.service.services import AdminServices
from acmeca.admin.web.app import admin_edge
from acmeca.admin.web.context import ADMIN
from acmeca.edge import keys
from acmeca.edge.middleware import access_log, error_guard
from acmeca.step.web.errors import render_step_error

SECRET = "password=hunter2 at 10.0.0.5"


async def _boom(request: web.Request) -> web.StreamResponse:
    raise RuntimeError(SECRET)


class _AnyoneIsAdmin:
    async def authenticate(self, authorization: str | None, *, path: str, host: str) -> Any:
        return SimpleNamespace(subject="test")


def _app() -> web.Application:
    root = web.Application(middlewares=[access_log, error_guard(render_step_error)])
    enabled = SimpleNamespace(authority=SimpleNamespace(enable_admin=True))
    root[keys.CONFIG] = cast(Any, SimpleNamespace(current=enabled))
    root[ADMIN] = cast(AdminServices, SimpleNamespace(auth=_AnyoneIsAdmin()))
    root.router.add_get("/boom", _boom)
    acme = web.Application(middlewares=[acme_edge])
    acme.router.add_get("/boom", _boom)
    root.add_subapp("/acme/", acme)
    admin = web.Application(middlewares=[admin_edge])
    admin.router.add_get("/boom", _boom)
    root.add_subapp("/admin/", admin)
    return root


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(_app())) as test_client:
        yield test_client


def _step_body(rid: str) -> dict[str, Any]:
    return {"status": 500, "message": f"internal server error (request id {rid})"}


def _acme_body(rid: str) -> dict[str, Any]:
    return {"type": "urn:ietf:params:acme:error:serverInternal",
            "detail": f"internal server error (request id {rid})", "status": 500}


def _admin_body(rid: str) -> dict[str, Any]:
    return {"type": "internalServerError", "detail": "internal server error",
            "message": f"internal server error (request id {rid})"}


@pytest.mark.parametrize(
    ("path", "content_type", "expected"),
    [
        ("/boom", "application/json", _step_body),
        ("/acme/boom", "application/problem+json", _acme_body),
        ("/admin/boom", "application/json", _admin_body),
    ],
    ids=["step", "acme", "admin"],
)
async def test_an_unexpected_exception_is_a_500_with_a_request_id_and_the_traceback_only_in_the_log(
    client: TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture,
    path: str, content_type: str, expected: Any,
) -> None:
    caplog.set_level(logging.INFO)
    response = await client.get(path)
    text = await response.text()

    assert response.status == 500
    assert response.content_type == content_type
    rid = response.headers["X-Request-Id"]
    assert await response.json(content_type=None) == expected(rid)
    for leak in (SECRET, "Traceback", "RuntimeError"):
        assert leak not in text

    [logged] = [r for r in caplog.records if r.exc_info is not None]
    assert logged.getMessage() == "unhandled error"
    assert (getattr(logged, "request_id", None), getattr(logged, "path", None)) == (rid, path)
    assert isinstance(logged.exc_info[1], RuntimeError)  # type: ignore[index]
    assert "Traceback" in caplog.text
    assert SECRET in caplog.text


async def test_acme_still_decorates_the_500(client: TestClient[web.Request, web.Application]) -> None:
    """The guard is shared; the ACME extras (CORS, Retry-After on a 5xx) are still added around it."""
    response = await client.get("/acme/boom")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Retry-After"] == "60"
    assert response.headers["Cache-Control"] == "public, max-age=0, no-cache"
