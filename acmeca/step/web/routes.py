"""Every step-style route, registered once per prefix ("" and "/1.0")."""

from __future__ import annotations

from aiohttp import web

from acmeca.step.web.certificates import add_certificate_routes
from acmeca.step.web.trust import add_trust_routes


def add_step_routes(app: web.Application, prefix: str) -> None:
    add_trust_routes(app, prefix)
    add_certificate_routes(app, prefix)
