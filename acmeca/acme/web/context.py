"""Per-request plumbing of the ACME edge: the built services, the provisioner, JWS checks, JSON replies.

The services are built by the composition root (:mod:`acmeca.server.graph`) before the first request and
set on the root application; every mount of the ACME sub-application reads the same ones.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from acmeca.acme.service.provisioner import AcmeProvisioner
from acmeca.acme.service.services import AcmeServices
from acmeca.acme.web.jws import KeyMode, VerifiedJWS, verify_request
from acmeca.acme.web.urls import ACCOUNT, DIRECTORY, url_for
from acmeca.domain.acme import AccountRecord
from acmeca.domain.errors import AccountDoesNotExist

ACME: web.AppKey[AcmeServices] = web.AppKey("acme_services", AcmeServices)
PROVISIONER = web.RequestKey("acme_provisioner", AcmeProvisioner)


def services(request: web.Request) -> AcmeServices:
    return request.config_dict[ACME]


async def provisioner(request: web.Request) -> AcmeProvisioner:
    """The ACME provisioner named in the path; unknown names are 404."""
    try:
        return request[PROVISIONER]
    except KeyError:
        pass
    found = await services(request).provisioners.by_name(request.match_info["provisioner"])
    request[PROVISIONER] = found
    return found


async def verify(request: web.Request, mode: KeyMode = KeyMode.KID) -> VerifiedJWS:
    """Run the JWS pipeline for this request against this provisioner's accounts."""
    acme = services(request)
    prov = await provisioner(request)

    async def find_account(kid: str) -> AccountRecord:
        account_id = kid.rstrip("/").rsplit("/", 1)[-1]
        if not account_id or kid != url_for(request, ACCOUNT, account_id=account_id):
            raise AccountDoesNotExist("kid is not an account URL of this provisioner")
        return await acme.accounts.authenticate(prov, account_id)

    return await verify_request(request, mode=mode, find_account=find_account, redeem_nonce=acme.nonces.redeem)


def account_of(verified: VerifiedJWS) -> AccountRecord:
    if verified.account is None:  # KeyMode.KID guarantees it; this keeps the type checker honest
        raise AccountDoesNotExist("this request must be signed by an account")
    return verified.account


def json_reply(
    body: dict[str, Any], *, status: int = 200, location: str | None = None, links: tuple[str, ...] = ()
) -> web.Response:
    response = web.Response(status=status, text=json.dumps(body), content_type="application/json")
    if location:
        response.headers["Location"] = location
    for link in links:
        response.headers.add("Link", link)
    return response


def directory_url(request: web.Request) -> str:
    return url_for(request, DIRECTORY)
