"""keyChange (RFC 8555 §7.3.5): the outer JWS by the account, the inner by the new key."""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import account_of, json_reply, services, verify
from acmeca.acme.web.jws import parse_key, request_url, verify_inner
from acmeca.acme.web.resources import account_json
from acmeca.acme.web.urls import ACCOUNT, url_for
from acmeca.domain.errors import Conflict, Malformed


async def post(request: web.Request) -> web.Response:
    verified = await verify(request)
    account = account_of(verified)
    if verified.payload is None:
        raise Malformed("keyChange needs the inner JWS as payload")
    new_key, inner = verify_inner(verified.payload, outer_url=request_url(request))
    if inner.get("account") != verified.protected.get("kid"):
        raise Malformed("the inner payload's account must equal the outer kid")
    old_key = parse_key(inner.get("oldKey"))
    acme = services(request)
    try:
        account = await acme.accounts.change_key(
            account, old_thumbprint=old_key.thumbprint, new_jwk=new_key.jwk, new_thumbprint=new_key.thumbprint
        )
    except Conflict as exc:
        holder = await acme.accounts.account_for_key(new_key.thumbprint)
        if holder is not None and holder.id != account.id:
            raise Conflict(exc.detail, location=url_for(request, ACCOUNT, account_id=holder.id)) from None
        raise
    return json_reply(account_json(request, account), location=url_for(request, ACCOUNT, account_id=account.id))
