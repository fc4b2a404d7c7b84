"""The directory (RFC 8555 §7.1.1): GET, HEAD and POST-as-GET all answer it; ``newAuthz`` is omitted."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from acmeca.acme.web.context import json_reply, provisioner
from acmeca.acme.web.urls import KEY_CHANGE, NEW_ACCOUNT, NEW_NONCE, NEW_ORDER, RENEWAL_INFO, REVOKE_CERT, url_for


async def get(request: web.Request) -> web.Response:
    prov = await provisioner(request)
    meta: dict[str, Any] = {"externalAccountRequired": prov.require_eab}
    if prov.terms_of_service:
        meta["termsOfService"] = prov.terms_of_service
    if prov.website:
        meta["website"] = prov.website
    if prov.caa_identities:
        meta["caaIdentities"] = list(prov.caa_identities)
    meta["profiles"] = {name: profile.description for name, profile in prov.profiles.items()}
    return json_reply(
        {
            "newNonce": url_for(request, NEW_NONCE),
            "newAccount": url_for(request, NEW_ACCOUNT),
            "newOrder": url_for(request, NEW_ORDER),
            "revokeCert": url_for(request, REVOKE_CERT),
            "keyChange": url_for(request, KEY_CHANGE),
            "renewalInfo": url_for(request, RENEWAL_INFO),  # no trailing slash: clients append "/{certID}"
            "meta": meta,
        }
    )
