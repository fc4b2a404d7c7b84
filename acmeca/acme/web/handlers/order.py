"""newOrder (RFC 8555 §7.4) and the order resource; processing orders carry Retry-After.

The wait follows the issuance's progress (see :mod:`acmeca.acme.service.pacing`).
"""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import account_of, json_reply, provisioner, services, verify
from acmeca.acme.web.resources import order_json
from acmeca.acme.web.urls import ORDER, url_for
from acmeca.domain.acme import OrderRecord
from acmeca.domain.errors import Malformed
from acmeca.domain.status import OrderStatus


def order_reply(request: web.Request, order: OrderRecord, *, status: int = 200) -> web.Response:
    response = json_reply(
        order_json(request, order), status=status, location=url_for(request, ORDER, order_id=order.id)
    )
    if order.status is OrderStatus.PROCESSING:
        response.headers["Retry-After"] = str(services(request).finalize.retry_after(order))
    return response


async def new_order(request: web.Request) -> web.Response:
    verified = await verify(request)
    if verified.payload is None:
        raise Malformed("newOrder needs a JSON payload")
    acme = services(request)
    order = await acme.orders.new_order(await provisioner(request), account_of(verified), verified.payload)
    return order_reply(request, order, status=201)


async def post(request: web.Request) -> web.Response:
    verified = await verify(request)
    order = await services(request).orders.order(account_of(verified), request.match_info["order_id"])
    return order_reply(request, order)
