"""Middlewares every front end shares: request ids, one access event per request, the last-resort guard.

The guard is what makes "never a traceback to a client" true, and there is one of it for all three front ends:
a CAError is rendered, aiohttp's routing exceptions are translated and rendered, anything else becomes a generic
500 whose body names the request id while the traceback goes to the log only. Each front end passes the
renderer of its own error format (and may change how aiohttp exceptions translate); what else a front end
checks or adds (ACME's User-Agent rule and headers, the admin API's switch and authentication) stays in it.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from aiohttp.typedefs import Middleware

from acmeca import metrics
from acmeca.domain.errors import CAError, MethodNotAllowed, NotFound, PayloadTooLarge, ServerInternal
from acmeca.edge.keys import FRONT_END, REQUEST_ID
from acmeca.logs import bind_request_id

log = logging.getLogger("acmeca.access")
guard_log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorRenderer = Callable[[CAError], web.StreamResponse]
HTTPTranslator = Callable[[web.HTTPException], CAError | None]


class _RequestIds:
    """Request ids only need to be unique among the processes sharing a log, not unguessable: a random
    per-process prefix and a counter (16 hex characters), not a getrandom() system call per request."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self.reseed()

    def reseed(self) -> None:
        self._prefix = secrets.token_hex(4)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFF:08x}"


_REQUEST_IDS = _RequestIds()
os.register_at_fork(after_in_child=_REQUEST_IDS.reseed)  # a forked child must not repeat its parent's ids


def request_id(request: web.Request) -> str:
    try:
        return request[REQUEST_ID]
    except KeyError:
        value = _REQUEST_IDS.next()
        request[REQUEST_ID] = value
        return value


def retry_after_header(wait: timedelta) -> str:
    """A Retry-After value in whole seconds, rounded up: a client that waits exactly that long must not be
    turned away again for want of a fraction of a second."""
    return str(max(1, math.ceil(wait.total_seconds())))


def http_exception_as_error(exc: web.HTTPException) -> CAError | None:
    """Translate aiohttp's routing exceptions so they render in the front end's own format."""
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("the requested resource could not be found")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(f"method {exc.method} is not allowed here", allowed=sorted(exc.allowed_methods))
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("request body is too large")
    return None


def error_guard(render: ErrorRenderer, *, translate: HTTPTranslator = http_exception_as_error) -> Middleware:
    """The last-resort guard of one front end, rendering every failure with ``render``.

    An aiohttp exception ``translate`` returns None for (a redirect, say) is re-raised for aiohttp to answer.
    Front ends with checks of their own call the returned middleware with a handler that runs them first,
    so their failures are rendered the same way.
    """

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except CAError as error:
            return render(error)
        except web.HTTPException as exc:
            translated = translate(exc)
            if translated is None:
                raise
            return render(translated)
        except Exception:
            rid = request_id(request)
            guard_log.exception("unhandled error", extra={"request_id": rid, "path": request.path})
            return render(ServerInternal(f"internal server error (request id {rid})"))

    return guard


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One access line and the HTTP metrics per request; every line logged meanwhile carries its request id."""
    started = time.perf_counter()
    rid = request_id(request)
    status = 500
    try:
        with bind_request_id(rid):
            response = await handler(request)
        status = response.status
        response.headers.setdefault("X-Request-Id", rid)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        _count(request, status, elapsed)
        log.info(
            "request",
            extra={
                "request_id": rid, "method": request.method, "path": request.path, "status": status,
                "duration_ms": round(elapsed * 1000, 2), "remote": request.remote,
            },
        )


def route_labels(request: web.Request) -> tuple[str, str]:
    """(front end, route name): the application that answered and its route's name, never the raw path."""
    match = request.match_info
    apps = match.apps
    front_end = apps[-1].get(FRONT_END, "step") if apps else "step"
    if match.http_exception is not None:
        return front_end, metrics.UNMATCHED_ROUTE
    return front_end, match.route.name or "unnamed"


def _count(request: web.Request, status: int, elapsed: float) -> None:
    front_end, route = route_labels(request)
    metrics.HTTP_REQUESTS.labels(front_end, route, metrics.method_label(request.method),
                                 metrics.code_class(status)).inc()
    metrics.HTTP_REQUEST_DURATION.labels(front_end, route).observe(elapsed)
