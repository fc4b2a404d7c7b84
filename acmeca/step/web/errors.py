"""CAError → step-ca's ``{"status": N, "message": "..."}`` bodies."""

from __future__ import annotations

from aiohttp import web

from acmeca.domain import errors as e
from acmeca.edge.middleware import retry_after_header

# class -> HTTP status, read by the rule every edge shares (nearest class in the MRO, CAError last). The 400
# rows are spelled out so a new direct subclass of CAError falls to the CAError row here as in every table.
STATUS: e.ErrorTable[int] = e.ErrorTable({
    **dict.fromkeys(
        (e.Malformed, e.BadNonce, e.BadSignatureAlgorithm, e.BadCSR, e.BadRevocationReason, e.AlreadyRevoked,
         e.AlreadyReplaced, e.ExternalAccountRequired, e.OrderNotReady, e.UnsupportedIdentifier, e.InvalidContact,
         e.UnsupportedContact, e.InvalidProfile, e.UserActionRequired, e.ValidationError),
        400,
    ),
    e.MethodNotAllowed: 405,
    e.PayloadTooLarge: 413,
    e.RequestTimeout: 408,
    e.UnsupportedMediaType: 415,
    e.NotFound: 404,
    e.AccountDoesNotExist: 404,
    e.Unauthorized: 401,
    e.Forbidden: 403,
    e.RejectedIdentifier: 403,
    e.BadPublicKey: 403,
    e.Conflict: 409,
    e.RateLimited: 429,
    e.NotImplementedYet: 501,
    e.ServiceUnavailable: 503,
    e.ServerInternal: 500,
    e.CAError: 500,
})

_PREFIX = {
    400: "The request could not be completed",
    401: "The request lacked necessary authorization to be completed",
    403: "The request was forbidden by the certificate authority",
}


def status_of(error: e.CAError) -> int:
    return STATUS.lookup(error)


def message_of(error: e.CAError, status: int) -> str:
    prefix = _PREFIX.get(status)
    if prefix is None:
        return error.detail
    detail = error.detail.rstrip(".")
    return f"{prefix}: {detail}."


def render_step_error(error: e.CAError) -> web.Response:
    status = status_of(error)
    response = web.json_response({"status": status, "message": message_of(error, status)}, status=status)
    if isinstance(error, e.MethodNotAllowed) and error.allowed:
        response.headers["Allow"] = ", ".join(error.allowed)
    if isinstance(error, e.RateLimited | e.ServiceUnavailable):
        response.headers["Retry-After"] = retry_after_header(error.retry_after)
    return response
