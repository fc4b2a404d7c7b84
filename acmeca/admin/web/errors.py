"""CAError → step-ca's admin error body ``{"type", "detail", "message"}`` (stepca.md §1.2)."""

from __future__ import annotations

from aiohttp import web

from acmeca.domain import errors as e
from acmeca.edge.middleware import retry_after_header

_BAD_REQUEST = (400, "badRequest", "bad request")
_INTERNAL = (500, "internalServerError", "internal server error")
# class -> (status, type, generic detail), read by the rule every edge shares (nearest class in the MRO,
# CAError last). The badRequest rows are spelled out so a new direct subclass of CAError falls to the CAError
# row here as in every table.
TABLE: e.ErrorTable[tuple[int, str, str]] = e.ErrorTable({
    **dict.fromkeys(
        (e.Malformed, e.Forbidden, e.BadNonce, e.BadSignatureAlgorithm, e.BadPublicKey, e.BadCSR,
         e.BadRevocationReason, e.AlreadyRevoked, e.AlreadyReplaced, e.AccountDoesNotExist,
         e.ExternalAccountRequired, e.OrderNotReady, e.RejectedIdentifier, e.UnsupportedIdentifier,
         e.InvalidContact, e.UnsupportedContact, e.InvalidProfile, e.UserActionRequired, e.RateLimited,
         e.ValidationError),
        _BAD_REQUEST,
    ),
    e.NotFound: (404, "notFound", "resource not found"),
    e.Unauthorized: (401, "unauthorized", "unauthorized"),
    e.Conflict: (409, "conflict", "conflict"),
    e.NotImplementedYet: (501, "notImplemented", "not implemented"),
    e.ServiceUnavailable: (503, "internalServerError", "the server is temporarily unavailable"),
    e.ServerInternal: _INTERNAL,
    e.CAError: _INTERNAL,
})


def classify(error: e.CAError) -> tuple[int, str, str]:
    return TABLE.lookup(error)


def render_admin_error(error: e.CAError) -> web.Response:
    status, kind, detail = classify(error)
    response = web.json_response({"type": kind, "detail": detail, "message": error.detail}, status=status)
    if isinstance(error, e.MethodNotAllowed) and error.allowed:
        response.headers["Allow"] = ", ".join(error.allowed)
        response.set_status(405)
    if isinstance(error, e.ServiceUnavailable):
        response.headers["Retry-After"] = retry_after_header(error.retry_after)
    return response
