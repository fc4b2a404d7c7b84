"""Every application key in one place; handlers read built services from here, never from globals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from acmeca.config import LiveConfig
    from acmeca.domain.clock import Clock
    from acmeca.engine.catalog import ProvisionerCatalog
    from acmeca.engine.issuer import IssuingEngine
    from acmeca.engine.trust import TrustBundle
    from acmeca.store.outages import Availability

CONFIG: web.AppKey[LiveConfig] = web.AppKey("config")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
ENGINE: web.AppKey[IssuingEngine] = web.AppKey("engine")
CATALOG: web.AppKey[ProvisionerCatalog] = web.AppKey("catalog")
TRUST: web.AppKey[TrustBundle] = web.AppKey("trust")
DATABASE_STATE: web.AppKey[Availability] = web.AppKey("database_state")  # what /health reports
REQUEST_ID = web.RequestKey("request_id", str)
# Which front end an application serves ("acme", "admin"); the root application, unset, serves the step API.
FRONT_END: web.AppKey[str] = web.AppKey("front_end", str)
