"""/sign, /renew, /rekey, /revoke and /crl (step-ca §1.3–1.4), registered under "" and "/1.0"."""

from __future__ import annotations

import base64
import functools
import ssl
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from acmeca.domain.errors import Malformed
from acmeca.domain.json_limits import loads_limited
from acmeca.edge.keys import CONFIG
from acmeca.step.service import IssuedCertificate, RevokeRequest, SignRequest
from acmeca.step.web.keys import STEP, route_name


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object body; anything else is step's 400 "error reading request body"."""
    try:
        document = loads_limited(await request.read() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Malformed("error reading request body") from None
    if not isinstance(document, dict):
        raise Malformed("error reading request body")
    return document


def _text(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Malformed(f"error reading request body: {key} must be a string")
    return value


def peer_certificate(request: web.Request) -> bytes | None:
    """The client certificate the TLS layer already verified against our roots, as DER."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    return ssl_object.getpeercert(binary_form=True) or None


def sign_response(request: web.Request, issued: IssuedCertificate) -> web.Response:
    """step-ca's SignResponse: ``ca`` is the first intermediate (``certChain[1]``)."""
    chain = list(issued.chain_pem)
    tls = request.app[CONFIG].current.tls
    body = {
        "crt": issued.leaf_pem,
        "ca": chain[1] if len(chain) > 1 else None,
        "certChain": chain,
        "tlsOptions": {
            "cipherSuites": list(tls.cipher_suites), "minVersion": tls.min_version, "maxVersion": tls.max_version,
            "renegotiation": tls.renegotiation,
        },
    }
    return web.json_response(body, status=201)


async def sign(request: web.Request) -> web.Response:
    document = await _body(request)
    issued = await request.app[STEP].sign(
        SignRequest(
            csr=_text(document, "csr"), ott=_text(document, "ott"),
            not_before=_text(document, "notBefore") or "", not_after=_text(document, "notAfter") or "",
        )
    )
    return sign_response(request, issued)


async def renew(request: web.Request) -> web.Response:
    authorization = request.headers.get("Authorization", "")
    bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    issued = await request.app[STEP].renew(peer=peer_certificate(request), bearer=bearer)
    return sign_response(request, issued)


async def rekey(request: web.Request) -> web.Response:
    peer = peer_certificate(request)
    if peer is None:
        raise Malformed("missing client certificate")
    document = await _body(request)
    issued = await request.app[STEP].rekey(peer=peer, csr_pem=_text(document, "csr"))
    return sign_response(request, issued)


def _reason_code(document: dict[str, Any]) -> int:
    value = document.get("reasonCode", 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed("error reading request body: reasonCode must be an integer")
    return value


async def revoke(request: web.Request) -> web.Response:
    document = await _body(request)
    serial = document.get("serial")
    passive = document.get("passive", True)
    await request.app[STEP].revoke(
        RevokeRequest(
            serial=str(serial) if isinstance(serial, str | int) and not isinstance(serial, bool) else None,
            ott=_text(document, "ott"), reason_code=_reason_code(document), reason=_text(document, "reason") or "",
            passive=passive is not False,
        ),
        peer=peer_certificate(request),
    )
    return web.json_response({"status": "ok"})


async def crl(request: web.Request) -> web.Response:
    stored = await request.app[STEP].crl()
    headers = {"Expires": format_datetime(stored.next_update, usegmt=True)}
    if "pem" in request.query:
        encoded = base64.b64encode(stored.der).decode()
        lines = "".join(encoded[i : i + 64] + "\n" for i in range(0, len(encoded), 64))
        body = f"-----BEGIN X509 CRL-----\n{lines}-----END X509 CRL-----\n".encode()
        headers["Content-Disposition"] = 'attachment; filename="crl.pem"'
        return web.Response(body=body, content_type="application/x-pem-file", headers=headers)
    headers["Content-Disposition"] = 'attachment; filename="crl.crl"'
    return web.Response(body=stored.der, content_type="application/pkix-crl", headers=headers)


def add_certificate_routes(app: web.Application, prefix: str) -> None:
    r, name = app.router, functools.partial(route_name, prefix)
    r.add_post(f"{prefix}/sign", sign, name=name("sign"))
    r.add_post(f"{prefix}/renew", renew, name=name("renew"))
    r.add_post(f"{prefix}/re-sign", renew, name=name("re-sign"))
    r.add_post(f"{prefix}/rekey", rekey, name=name("rekey"))
    r.add_post(f"{prefix}/revoke", revoke, name=name("revoke"))
    r.add_get(f"{prefix}/crl", crl, name=name("crl"))
