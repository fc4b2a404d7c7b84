"""CAError → step-ca's admin error body ``{"type", "detail", "message"}`` (stepca.md §1.2)."""

from __future__ import annotations

from aiohttp import web

from acmeca.domain import errors as e

# (class, status, type, generic detail); most specific first.
_TABLE: tuple[tuple[type[e.CAError], int, str, str], ...] = (
    (e.NotFound, 404, "notFound", "resource not found"),
    (e.Unauthorized, 401, "unauthorized", "unauthorized"),
    (e.Conflict, 409, "conflict", "conflict"),
    (e.NotImplementedYet, 501, "notImplemented", "not implemented"),
    (e.ServiceUnavailable, 503, "internalServerError", "the server is temporarily unavailable"),
    (e.ServerInternal, 500, "internalServerError", "internal server error"),
)
_BAD_REQUEST = (400, "badRequest", "bad request")


def classify(error: e.CAError) -> tuple[int, str, str]:
    for cls, status, kind, detail in _TABLE:
        if isinstance(error, cls):
            return status, kind, detail
    if type(error) is e.CAError:
        return 500, "internalServerError", "internal server error"
    return _BAD_REQUEST


def render_admin_error(error: e.CAError) -> web.Response:
    status, kind, detail = classify(error)
    response = web.json_response({"type": kind, "detail": detail, "message": error.detail}, status=status)
    if isinstance(error, e.MethodNotAllowed) and error.allowed:
        response.headers["Allow"] = ", ".join(error.allowed)
        response.set_status(405)
    return response
