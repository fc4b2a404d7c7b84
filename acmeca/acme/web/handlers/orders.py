"""The account's orders list (RFC 8555 §7.1.2.1), paginated with ``Link: <...?cursor=N>;rel="next"``."""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import account_of, json_reply, provisioner, services, verify
from acmeca.acme.web.urls import ACCOUNT_ORDERS, ORDER, url_for
from acmeca.domain.errors import Malformed, NotFound


def _cursor(request: web.Request) -> int:
    raw = request.query.get("cursor", "0")
    if not raw.isdigit() or len(raw) > 9:
        raise Malformed("cursor must be a non-negative integer")
    return int(raw)


async def post(request: web.Request) -> web.Response:
    cursor = _cursor(request)
    account = account_of(await verify(request))
    if account.id != request.match_info["account_id"]:
        raise NotFound("no such account")
    page_size = (await provisioner(request)).orders_per_page
    ids, next_cursor = await services(request).orders.order_page(account, cursor, page_size)
    links: tuple[str, ...] = ()
    if next_cursor is not None:
        base = url_for(request, ACCOUNT_ORDERS, account_id=account.id)
        links = (f'<{base}?cursor={next_cursor}>;rel="next"',)
    return json_reply({"orders": [url_for(request, ORDER, order_id=i) for i in ids]}, links=links)
