"""Certificate download (RFC 8555 §7.4.2): leaf then intermediates, no root; alternates linked by index."""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import account_of, services, verify
from acmeca.acme.web.urls import CERTIFICATE_ALTERNATE, url_for
from acmeca.domain.errors import NotFound

PEM_CHAIN = "application/pem-certificate-chain"


async def post(request: web.Request) -> web.Response:
    verified = await verify(request)
    serial = request.match_info["serial"]
    raw_index = request.match_info.get("chain", "0")
    if not raw_index.isdigit() or len(raw_index) > 3:
        raise NotFound("no such certificate chain")
    chain = await services(request).certificates.chain(account_of(verified), serial, int(raw_index))
    response = web.Response(body=chain.pem.encode("ascii"), headers={"Content-Type": PEM_CHAIN})
    for index in range(chain.alternates + 1):
        if index != int(raw_index):
            url = url_for(request, CERTIFICATE_ALTERNATE, serial=serial, chain=str(index))
            response.headers.add("Link", f'<{url}>;rel="alternate"')
    return response
