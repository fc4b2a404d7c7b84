"""build_app: one aiohttp application serving the step API (at / and /1.0), ACME and, later, admin."""

from __future__ import annotations

import importlib
import logging

from aiohttp import web

from acmeca.edge import keys
from acmeca.edge.middleware import access_log, error_guard
from acmeca.server.services import Services
from acmeca.step.web.errors import render_step_error
from acmeca.step.web.keys import STEP
from acmeca.step.web.routes import add_step_routes

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024

# Front ends mounted as sub-applications when their package is present: (module, factory, prefixes).
SUBAPPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("acmeca.acme.web.app", "create_acme_app", ("/acme/", "/2.0/acme/")),
    ("acmeca.admin.web.app", "create_admin_app", ("/admin/",)),
)


def build_app(services: Services) -> web.Application:
    app = web.Application(middlewares=[access_log, error_guard(render_step_error)], client_max_size=MAX_BODY)
    app[keys.CONFIG] = services.config
    app[keys.CLOCK] = services.clock
    app[keys.DATABASE] = services.database
    app[keys.RUNTIME] = services.runtime
    app[keys.ENGINE] = services.engine
    app[keys.CATALOG] = services.catalog
    app[keys.TRUST] = services.trust
    if services.step is not None:
        app[STEP] = services.step
    add_step_routes(app, "")
    add_step_routes(app, "/1.0")
    for module_name, factory_name, prefixes in SUBAPPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        factory = getattr(module, factory_name)
        for prefix in prefixes:
            app.add_subapp(prefix, factory())
    return app
