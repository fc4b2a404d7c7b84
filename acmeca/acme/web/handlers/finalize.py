"""finalize (RFC 8555 §7.4): the reply is the order, with ``Location`` (x/crypto/acme and mod_md need it)."""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import account_of, provisioner, services, verify
from acmeca.acme.web.handlers.order import order_reply
from acmeca.acme.web.jws import b64decode
from acmeca.acme.web.urls import ACCOUNT, url_for
from acmeca.domain.errors import Malformed


async def post(request: web.Request) -> web.Response:
    verified = await verify(request)
    if verified.payload is None or "csr" not in verified.payload:
        raise Malformed("finalize needs a payload with a csr")
    csr = b64decode(verified.payload["csr"], "csr")
    acme = services(request)
    account = account_of(verified)
    order = await acme.finalize.finalize(
        await provisioner(request), account, request.match_info["order_id"], csr,
        account_uri=url_for(request, ACCOUNT, account_id=account.id),
    )
    return order_reply(request, order)
