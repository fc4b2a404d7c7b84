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

CONFIG = web.AppKey("config", "CAConfig")
CLOCK = web.AppKey("clock", "Clock")
DATABASE = web.AppKey("database", "Database")
RUNTIME = web.AppKey("runtime", "Runtime")
ENGINE = web.AppKey("engine", "IssuingEngine")
CATALOG = web.AppKey("catalog", "ProvisionerCatalog")
TRUST = web.AppKey("trust", "TrustBundle")
REQUEST_ID = web.RequestKey("request_id", str)
