"""``POST /admin/acme/renewal-info``: ask ARI clients to renew early (a key or intermediate incident).

``{"serials": ["123", "0x7b"]}`` moves the suggested window of those certificates to now;
``{"issuer": "<SKI hex>"}`` does it for every live certificate of one intermediate. Clients that follow
ARI (certbot 5, lego, Caddy, cert-manager's renewal) replace them at their next poll.
"""

from __future__ import annotations

from aiohttp import web

from acmeca.admin.web.context import identity, services
from acmeca.admin.web.requests import json_body
from acmeca.domain.errors import Malformed

SKI_HEX = frozenset("0123456789abcdef")


def _issuer(value: object) -> str | None:
    if value is None:
        return None
    text = value.replace(":", "").strip().lower() if isinstance(value, str) else ""
    if not text or len(text) % 2 or not set(text) <= SKI_HEX:
        raise Malformed("issuer must be the intermediate's subject key identifier in hex (colons allowed)")
    return text


def _serials(value: object) -> list[str]:
    """The list's shape; the service checks each serial."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Malformed("serials must be a list of serial numbers (decimal or 0x-prefixed hex strings)")
    return value


async def suggest_early_renewal(request: web.Request) -> web.Response:
    body = await json_body(request)
    unknown = set(body) - {"serials", "issuer"}
    if unknown:
        raise Malformed(f"unknown field {sorted(unknown)[0]!r}; give serials or issuer")
    touched = await services(request).renewals.suggest_early(
        serials=_serials(body.get("serials")), issuer_ski=_issuer(body.get("issuer")), by=identity(request).subject,
    )
    return web.json_response({"serials": touched, "count": len(touched)})
