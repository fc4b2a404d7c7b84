"""Every application key in one place; handlers read built services from here, never from globals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from acmeca.config import CAConfig
    from acmeca.domain.clock import Clock
    from acmeca.engine.issuer import IssuingEngine
    from acmeca.engine.provisioners import ProvisionerCatalog
    from acmeca.engine.trust import TrustBundle
    from acmeca.runtime import Runtime
    from acmeca.store.database import Database

CONFIG: web.AppKey[CAConfig] = web.AppKey("config")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
DATABASE: web.AppKey[Database] = web.AppKey("database")
RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
ENGINE: web.AppKey[IssuingEngine] = web.AppKey("engine")
CATALOG: web.AppKey[ProvisionerCatalog] = web.AppKey("catalog")
TRUST: web.AppKey[TrustBundle] = web.AppKey("trust")
REQUEST_ID = web.RequestKey("request_id", str)
