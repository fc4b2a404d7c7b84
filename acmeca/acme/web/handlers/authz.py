"""Authorizations (RFC 8555 §7.5): POST-as-GET, or ``{"status": "deactivated"}`` by the owner.

A pending one carries Retry-After: while one of its challenges is processing, a wait that follows that
validation's progress (see :mod:`acmeca.acme.service.pacing`); otherwise one second.
"""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import account_of, json_reply, services, verify
from acmeca.acme.web.resources import authz_json
from acmeca.acme.web.urls import AUTHZ, url_for
from acmeca.domain.errors import Malformed
from acmeca.domain.status import AuthorizationStatus, ChallengeStatus

PENDING_RETRY_AFTER = 1  # nothing in flight: the client has yet to answer a challenge


async def post(request: web.Request) -> web.Response:
    verified = await verify(request)
    account = account_of(verified)
    orders = services(request).orders
    authz_id = request.match_info["authz_id"]
    payload = verified.payload
    if payload is not None and "status" in payload:
        if payload["status"] != AuthorizationStatus.DEACTIVATED.value:
            raise Malformed("an authorization's status may only be set to 'deactivated'")
        authz = await orders.deactivate_authorization(account, authz_id)
    else:
        authz = await orders.authorization(account, authz_id)
    response = json_reply(authz_json(request, authz), location=url_for(request, AUTHZ, authz_id=authz.id))
    if authz.status is AuthorizationStatus.PENDING:
        processing = next((c for c in authz.challenges if c.status is ChallengeStatus.PROCESSING), None)
        wait = PENDING_RETRY_AFTER
        if processing is not None:
            wait = await services(request).challenges.retry_after(processing, authz)
        response.headers["Retry-After"] = str(wait)
    return response
