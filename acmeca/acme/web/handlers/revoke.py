"""revokeCert (RFC 8555 §7.6): signed by an account (kid) or by the certificate's key (jwk)."""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import services, verify
from acmeca.acme.web.jws import KeyMode, b64decode
from acmeca.domain.errors import Malformed


async def post(request: web.Request) -> web.Response:
    verified = await verify(request, KeyMode.EITHER)
    payload = verified.payload
    if payload is None or "certificate" not in payload:
        raise Malformed("revokeCert needs a payload with a certificate")
    der = b64decode(payload["certificate"], "certificate")
    await services(request).certificates.revoke(
        certificate_der=der, reason=payload.get("reason"), account=verified.account,
        key_thumbprint=None if verified.account else verified.key.thumbprint,
    )
    return web.Response(status=200)
