"""Per-request plumbing of the ACME edge: the built services, the provisioner, JWS checks, JSON replies.

aiohttp gives a sub-application no view of its parent's AppKeys at start-up, so the services are built from
``request.config_dict`` on the first ACME request, or earlier by the root's ``on_startup`` hook that
``acme_startup`` returns, and kept in a holder created with the sub-application. Building them also starts
the job worker and the nonce sweep as supervised runtime tasks (so a replica resumes other replicas'
expired jobs without waiting for traffic); the holder stops them when the sub-application is cleaned up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from acmeca.acme.service.challenges import ValidationContext
from acmeca.acme.service.provisioner import AcmeProvisioner
from acmeca.acme.service.services import AcmeServices, build_services
from acmeca.acme.web.jws import KeyMode, VerifiedJWS, verify_request
from acmeca.acme.web.urls import ACCOUNT, DIRECTORY, url_for
from acmeca.domain.acme import AccountRecord
from acmeca.domain.errors import AccountDoesNotExist
from acmeca.edge import keys

NONCE_SWEEP_SECONDS = 600.0


def default_validation(top_level: dict[str, Any]) -> ValidationContext:
    """The real validators of acmeca.validation, imported late so the edge loads without them."""
    from acmeca.validation.caa import check_caa
    from acmeca.validation.dispatch import validate
    from acmeca.validation.settings import ValidationSettings

    return ValidationContext(
        validate=validate, settings_for=ValidationSettings.from_config, top_level=top_level, check_caa=check_caa
    )


@dataclass
class AcmeOptions:
    """What a test (or the composition root) may change: the validator and the worker's poll interval."""

    validation: ValidationContext | None = None
    poll_interval: float = 1.0


class ServicesHolder:
    def __init__(self, options: AcmeOptions) -> None:
        self._options = options
        self._services: AcmeServices | None = None
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    async def get(self, request: web.Request) -> AcmeServices:
        return await self.start(request.config_dict)

    async def start(self, shared: Mapping[Any, Any]) -> AcmeServices:
        """Build the services from the parent's AppKeys (a root app or ``request.config_dict``), once."""
        if self._services is None:
            async with self._lock:
                if self._services is None:
                    self._services = self._build(shared)
        return self._services

    def _build(self, shared: Mapping[Any, Any]) -> AcmeServices:
        config = shared[keys.CONFIG]
        validation = self._options.validation or default_validation(dict(config.validation))
        services = build_services(
            config=config, clock=shared[keys.CLOCK], db=shared[keys.DATABASE], engine=shared[keys.ENGINE],
            catalog=shared[keys.CATALOG], validation=validation, poll_interval=self._options.poll_interval,
        )
        runtime = shared[keys.RUNTIME]
        self._tasks.append(runtime.spawn("acme-jobs", services.worker.run_forever))
        self._tasks.append(runtime.spawn("acme-nonce-sweep", lambda: _sweep_forever(services)))
        return services

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()


async def _sweep_forever(services: AcmeServices) -> None:
    while True:
        await asyncio.sleep(NONCE_SWEEP_SECONDS)
        await services.nonces.sweep()


HOLDER: web.AppKey[ServicesHolder] = web.AppKey("acme_services", ServicesHolder)
PROVISIONER = web.RequestKey("acme_provisioner", AcmeProvisioner)


def holder_context(holder: ServicesHolder) -> Any:
    async def context(_app: web.Application) -> AsyncIterator[None]:
        yield
        await holder.close()

    return context


async def services(request: web.Request) -> AcmeServices:
    return await request.app[HOLDER].get(request)


async def provisioner(request: web.Request) -> AcmeProvisioner:
    """The ACME provisioner named in the path; unknown names are 404."""
    try:
        return request[PROVISIONER]
    except KeyError:
        pass
    found = await (await services(request)).provisioners.by_name(request.match_info["provisioner"])
    request[PROVISIONER] = found
    return found


async def verify(request: web.Request, mode: KeyMode = KeyMode.KID) -> VerifiedJWS:
    """Run the JWS pipeline for this request against this provisioner's accounts."""
    acme = await services(request)
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
