"""CAError → RFC 7807 problem documents with RFC 8555 error types (acme.md §1.15).

The table is the only place an error class meets an HTTP status for ACME. It is an ``ErrorTable``, read by the
rule every edge shares (nearest class in the MRO, CAError last), so a subclass added later inherits its
parent's rendering until it is given a row of its own.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from acmeca.domain import errors as e
from acmeca.edge.middleware import retry_after_header

log = logging.getLogger(__name__)
URN = "urn:ietf:params:acme:error:"
PROBLEM_TYPE = "application/problem+json"

# class -> (ACME error type, HTTP status)
TABLE: e.ErrorTable[tuple[str, int]] = e.ErrorTable({
    e.Malformed: ("malformed", 400),
    e.MethodNotAllowed: ("malformed", 405),
    e.UnsupportedMediaType: ("malformed", 415),
    e.PayloadTooLarge: ("malformed", 413),
    e.RequestTimeout: ("malformed", 408),
    e.NotFound: ("malformed", 404),
    e.Unauthorized: ("unauthorized", 403),
    e.Unauthenticated: ("unauthorized", 401),
    e.AccountDeactivated: ("unauthorized", 401),
    e.Forbidden: ("rejectedIdentifier", 400),
    e.BadNonce: ("badNonce", 400),
    e.BadSignatureAlgorithm: ("badSignatureAlgorithm", 400),
    e.BadPublicKey: ("badPublicKey", 400),
    e.BadCSR: ("badCSR", 400),
    e.BadRevocationReason: ("badRevocationReason", 400),
    e.AlreadyRevoked: ("alreadyRevoked", 400),
    e.AlreadyReplaced: ("alreadyReplaced", 409),
    e.AccountDoesNotExist: ("accountDoesNotExist", 400),
    e.ExternalAccountRequired: ("externalAccountRequired", 403),
    e.OrderNotReady: ("orderNotReady", 403),
    e.RejectedIdentifier: ("rejectedIdentifier", 400),
    e.UnsupportedIdentifier: ("unsupportedIdentifier", 400),
    e.InvalidContact: ("invalidContact", 400),
    e.UnsupportedContact: ("unsupportedContact", 400),
    e.InvalidProfile: ("invalidProfile", 400),
    e.UserActionRequired: ("userActionRequired", 403),
    e.Conflict: ("malformed", 409),
    e.RateLimited: ("rateLimited", 429),
    e.NotImplementedYet: ("malformed", 501),
    e.ServiceUnavailable: ("serverInternal", 503),
    e.ServerInternal: ("serverInternal", 500),
    e.ValidationError: ("malformed", 400),
    e.ConnectionProblem: ("connection", 400),
    e.DNSProblem: ("dns", 400),
    e.TLSProblem: ("tls", 400),
    e.IncorrectResponse: ("incorrectResponse", 403),
    e.CAAProblem: ("caa", 403),
    e.CAError: ("serverInternal", 500),
})


def kind_of(error: e.CAError) -> tuple[str, int]:
    return TABLE.lookup(error)


def problem_document(error: e.CAError) -> dict[str, Any]:
    """The JSON body; ``identifier`` only ever appears inside subproblems (RFC 8555 §6.7.1)."""
    kind, status = kind_of(error)
    detail = error.detail if status < 500 or isinstance(error, e.ServiceUnavailable) else _internal(error)
    body: dict[str, Any] = {"type": URN + kind, "detail": detail, "status": status}
    if isinstance(error, e.BadSignatureAlgorithm):
        body["algorithms"] = list(error.algorithms)
    if error.subproblems:
        body["subproblems"] = [
            {
                **{k: v for k, v in problem_document(s.error).items() if k != "subproblems"},
                **({"identifier": s.identifier.to_json()} if s.identifier else {}),
            }
            for s in error.subproblems
        ]
    return body


def _internal(error: e.CAError) -> str:
    """5xx details must not leak internals; a ServerInternal detail is already safe (it names a request id)."""
    return error.detail if isinstance(error, e.ServerInternal) else "the server could not complete the request"


def problem_response(error: e.CAError) -> web.Response:
    body = problem_document(error)
    response = web.Response(status=body["status"], text=json.dumps(body), content_type=PROBLEM_TYPE)
    if isinstance(error, e.MethodNotAllowed) and error.allowed:
        response.headers["Allow"] = ", ".join(error.allowed)
    if isinstance(error, e.Conflict) and error.location:
        response.headers["Location"] = error.location
    if isinstance(error, e.RateLimited | e.ServiceUnavailable):
        response.headers["Retry-After"] = retry_after_header(error.retry_after)
    elif body["status"] >= 500:
        response.headers["Retry-After"] = "60"
    return response
