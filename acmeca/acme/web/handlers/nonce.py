"""newNonce (RFC 8555 §7.2): HEAD answers 200, GET 204; the edge adds Replay-Nonce and ``no-store``."""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import provisioner


async def get(request: web.Request) -> web.Response:
    await provisioner(request)
    response = web.Response(status=200 if request.method == "HEAD" else 204)
    response.headers["Cache-Control"] = "no-store"
    return response


async def post(request: web.Request) -> web.Response:
    """POST-as-GET is tolerated (Boulder does) and answered 200."""
    await provisioner(request)
    response = web.Response(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response
