"""Per-request plumbing of the admin edge: the built services and the authenticated caller."""

from __future__ import annotations

from aiohttp import web

from acmeca.admin.service.auth import AdminIdentity
from acmeca.admin.service.services import AdminServices

ADMIN: web.AppKey[AdminServices] = web.AppKey("admin_services", AdminServices)
IDENTITY = web.RequestKey("admin_identity", AdminIdentity)


def services(request: web.Request) -> AdminServices:
    return request.config_dict[ADMIN]


def identity(request: web.Request) -> AdminIdentity:
    return request[IDENTITY]
