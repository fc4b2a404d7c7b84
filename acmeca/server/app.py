"""build_app: one aiohttp application serving the step API (at / and /1.0), ACME and the admin API.

The application only routes: every service it hands to handlers comes built from the composition root.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from acmeca.acme.web.app import create_acme_app
from acmeca.acme.web.context import ACME
from acmeca.admin.web.app import create_admin_app
from acmeca.admin.web.context import ADMIN
from acmeca.edge import keys
from acmeca.edge.middleware import access_log, error_guard
from acmeca.server.connections import receive_deadline
from acmeca.server.graph import ServiceGraph
from acmeca.step.web.errors import render_step_error
from acmeca.step.web.keys import STEP
from acmeca.step.web.routes import add_step_routes

MAX_BODY = 1024 * 1024
ACME_PREFIXES = ("/acme/", "/2.0/acme/")  # step-ca mounts ACME twice; links always use /acme


class ParserRefusals(logging.Filter):
    """aiohttp logs a request its HTTP parser refuses (a bad request line or header, answered 400 before any of
    our code runs) as an error with a traceback: noise anyone can trigger. One plain line says it instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and error.code == 400:
            record.msg, record.args = "request refused by the HTTP parser", ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.reason = error.message
        return True


_PARSER_REFUSALS = ParserRefusals()


def build_app(graph: ServiceGraph) -> web.Application:
    logging.getLogger("aiohttp.server").addFilter(_PARSER_REFUSALS)  # adding the same filter twice is a no-op
    # receive_deadline first: it must see every request before anything reads its body.
    app = web.Application(middlewares=[receive_deadline, access_log, error_guard(render_step_error)],
                          client_max_size=MAX_BODY)
    app[keys.CONFIG] = graph.live
    app[keys.CLOCK] = graph.clock
    app[keys.ENGINE] = graph.engine
    app[keys.CATALOG] = graph.catalog
    app[keys.TRUST] = graph.trust
    app[keys.DATABASE_STATE] = graph.database.availability
    app[STEP] = graph.step
    app[ACME] = graph.acme
    app[ADMIN] = graph.admin
    add_step_routes(app, "")
    add_step_routes(app, "/1.0")
    for prefix in ACME_PREFIXES:
        app.add_subapp(prefix, create_acme_app())
    app.add_subapp("/admin/", create_admin_app())
    return app
