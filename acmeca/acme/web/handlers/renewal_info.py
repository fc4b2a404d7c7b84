"""ACME Renewal Information (RFC 9773 §4.1): ``GET {renewalInfo}/{certID}``, unauthenticated and cacheable.

The answer carries ``Retry-After`` (the provisioner's ``renewalInfo.retryAfter``) so clients poll at the
operator's pace; a padded or malformed certID is 400 ``malformed`` and an unknown one 404.
"""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import json_reply, provisioner, services
from acmeca.domain.errors import Malformed


async def get(request: web.Request) -> web.Response:
    prov = await provisioner(request)
    window = await services(request).renewals.window(prov, request.match_info["cert_id"])
    response = json_reply(window.to_json())
    seconds = max(1, int(window.retry_after.total_seconds()))
    response.headers["Retry-After"] = str(seconds)
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    return response


async def bare(request: web.Request) -> web.Response:
    await provisioner(request)  # an unknown provisioner is 404 like every other resource
    raise Malformed("append the certID: GET renewalInfo/{certID}")
