"""newAccount and the account resource (RFC 8555 §7.3): lookup, contact update, deactivation."""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import account_of, json_reply, provisioner, services, verify
from acmeca.acme.web.jws import KeyMode
from acmeca.acme.web.resources import account_json
from acmeca.acme.web.urls import ACCOUNT, url_for
from acmeca.domain.errors import Malformed, NotFound


async def new_account(request: web.Request) -> web.Response:
    verified = await verify(request, KeyMode.JWK)
    if verified.payload is None:
        raise Malformed("newAccount needs a JSON payload")
    acme = services(request)
    account, created = await acme.accounts.register(
        await provisioner(request), jwk=verified.key.jwk, thumbprint=verified.key.thumbprint,
        payload=verified.payload, created_ip=request.remote, url=str(verified.protected.get("url", "")),
    )
    return json_reply(
        account_json(request, account), status=201 if created else 200,
        location=url_for(request, ACCOUNT, account_id=account.id),
    )


async def post(request: web.Request) -> web.Response:
    verified = await verify(request)
    account = account_of(verified)
    if account.id != request.match_info["account_id"]:
        raise NotFound("no such account")
    if verified.payload is not None:
        account = await services(request).accounts.update(account, verified.payload)
    return json_reply(account_json(request, account), location=url_for(request, ACCOUNT, account_id=account.id))
