"""The ACME sub-application and its edge middleware.

The middleware is the ACME half of "no traceback ever reaches a client": every CAError and routing error
becomes a problem document, anything else a generic 500 with ``Retry-After``. It also adds what acme.md
§1.1 wants on every response: ``Replay-Nonce`` on every non-GET reply (errors included, so a ``badNonce``
always carries a fresh nonce), ``Link rel="index"`` everywhere but the directory, ``Cache-Control`` and CORS.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from acmeca.acme.web.context import directory_url, services
from acmeca.acme.web.problems import problem_response
from acmeca.acme.web.routes import add_routes
from acmeca.acme.web.urls import NEW_NONCE
from acmeca.domain.errors import CAError, Malformed
from acmeca.edge.keys import FRONT_END
from acmeca.edge.middleware import error_guard, http_exception_as_error, request_id

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
EXPOSED = "Link, Replay-Nonce, Location, Retry-After"


def _as_problem(exc: web.HTTPException) -> CAError:
    """ACME clients only understand problem documents, so no aiohttp exception passes through untranslated."""
    return http_exception_as_error(exc) or Malformed(exc.reason or "bad request")


_GUARD = error_guard(problem_response, translate=_as_problem)


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Runs inside the shared guard, so a missing User-Agent is a problem document like any other error."""
    if not request.headers.get("User-Agent"):
        raise Malformed("requests must carry a User-Agent header (RFC 8555 §6.1)")
    return await handler(request)


async def _decorate(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Cache-Control", "public, max-age=0, no-cache")
    headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = EXPOSED
    if request.method != "GET" or request.match_info.route.name == NEW_NONCE:
        try:
            headers["Replay-Nonce"] = await services(request).nonces.issue()
        except CAError:
            log.warning("could not mint a nonce for a reply", extra={"request_id": request_id(request)})
    if not request.path.endswith("/directory") and "provisioner" in request.match_info:
        with contextlib.suppress(KeyError, ValueError):
            headers.add("Link", f'<{directory_url(request)}>;rel="index"')


@web.middleware
async def acme_edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await _GUARD(request, functools.partial(_answer, handler=handler))
    await _decorate(request, response)
    return response


def create_acme_app() -> web.Application:
    """The ACME sub-application; the server mounts it at ``/acme/`` and ``/2.0/acme/``.

    Its services are set on the root application by the composition root, so every mount shares one set of
    ACME services and one job worker.
    """
    app = web.Application(middlewares=[acme_edge])
    app[FRONT_END] = "acme"
    add_routes(app)
    return app
