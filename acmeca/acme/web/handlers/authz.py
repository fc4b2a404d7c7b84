"""Authorizations (RFC 8555 §7.5): POST-as-GET, or ``{"status": "deactivated"}`` by the owner."""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import account_of, json_reply, services, verify
from acmeca.acme.web.resources import authz_json
from acmeca.acme.web.urls import AUTHZ, url_for
from acmeca.domain.errors import Malformed
from acmeca.domain.status import AuthorizationStatus

PENDING_RETRY_AFTER = "1"


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
        response.headers["Retry-After"] = PENDING_RETRY_AFTER
    return response
