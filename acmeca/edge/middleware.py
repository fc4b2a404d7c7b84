"""Middlewares every front end shares: request ids, one access event per request, the last-resort guard.

The guard is what makes "never a traceback to a client" true: anything unexpected becomes a generic 500 whose
body names the request id, and the traceback goes to the log only. Each front end renders its own error
format through the ``render_error`` it passes in.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from acmeca.domain.errors import CAError, MethodNotAllowed, NotFound, PayloadTooLarge, ServerInternal
from acmeca.edge.keys import REQUEST_ID

log = logging.getLogger("acmeca.access")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorRenderer = Callable[[web.Request, CAError], web.StreamResponse]


def request_id(request: web.Request) -> str:
    try:
        return request[REQUEST_ID]
    except KeyError:
        value = secrets.token_hex(8)
        request[REQUEST_ID] = value
        return value


def http_exception_as_error(exc: web.HTTPException) -> CAError | None:
    """Translate aiohttp's routing exceptions so they render in the front end's own format."""
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("the requested resource could not be found")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(f"method {exc.method} is not allowed here", allowed=sorted(exc.allowed_methods))
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("request body is too large")
    return None


def error_guard(render_error: ErrorRenderer) -> Middleware:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except CAError as error:
            return render_error(request, error)
        except web.HTTPException as exc:
            translated = http_exception_as_error(exc)
            if translated is None:
                raise
            return render_error(request, translated)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id(request), "path": request.path})
            return render_error(request, ServerInternal(f"internal server error (request id {request_id(request)})"))

    return guard


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    rid = request_id(request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers.setdefault("X-Request-Id", rid)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log.info(
            "request",
            extra={
                "request_id": rid, "method": request.method, "path": request.path, "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "remote": request.remote,
            },
        )
