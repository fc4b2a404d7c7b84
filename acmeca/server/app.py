"""build_app: one aiohttp application serving the step API (at / and /1.0), ACME and the admin API."""

from __future__ import annotations

import logging

from aiohttp import web

from acmeca.acme.web.app import acme_startup, create_acme_app
from acmeca.acme.web.context import AcmeOptions, ServicesHolder
from acmeca.admin.web.app import create_admin_app
from acmeca.edge import keys
from acmeca.edge.middleware import access_log, error_guard
from acmeca.server.services import Services
from acmeca.step.web.errors import render_step_error
from acmeca.step.web.keys import STEP
from acmeca.step.web.routes import add_step_routes

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
ACME_PREFIXES = ("/acme/", "/2.0/acme/")  # step-ca mounts ACME twice; links always use /acme


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
    holder = ServicesHolder(AcmeOptions())
    mounts = [create_acme_app(holder=holder) for _ in ACME_PREFIXES]
    for prefix, acme in zip(ACME_PREFIXES, mounts, strict=True):
        app.add_subapp(prefix, acme)
    # Start the ACME services and job worker with the process, not on the first ACME request, so an idle
    # replica still takes over jobs a crashed one left behind.
    app.on_startup.append(acme_startup(mounts[0]))
    app.add_subapp("/admin/", create_admin_app())
    return app
