"""The admin services of one process, built on first use from the parent application's collaborators."""

from __future__ import annotations

from aiohttp import web

from acmeca.admin.service import graph
from acmeca.admin.service.auth import AdminIdentity
from acmeca.admin.service.graph import AdminServices
from acmeca.edge import keys


class Holder:
    """Mutable slot in the (frozen) sub-application: services are built lazily, once."""

    def __init__(self) -> None:
        self.services: AdminServices | None = None
        self.bootstrapped = False


HOLDER: web.AppKey[Holder] = web.AppKey("admin_holder", Holder)
IDENTITY = web.RequestKey("admin_identity", AdminIdentity)


def build(request: web.Request) -> AdminServices:
    parent = request.config_dict
    return graph.build_admin_services(
        config=parent[keys.CONFIG], clock=parent[keys.CLOCK], db=parent[keys.DATABASE], catalog=parent[keys.CATALOG],
        engine=parent[keys.ENGINE], roots=parent[keys.TRUST].roots,
    )


def services(request: web.Request) -> AdminServices:
    holder = request.config_dict[HOLDER]
    if holder.services is None:
        holder.services = build(request)
    return holder.services


def identity(request: web.Request) -> AdminIdentity:
    return request[IDENTITY]


async def ensure_first_admin(request: web.Request) -> None:
    """Once per process, before the first admin request is authenticated (see graph.ensure_first_admin)."""
    holder = request.config_dict[HOLDER]
    if holder.bootstrapped:
        return
    parent = request.config_dict
    await graph.ensure_first_admin(
        config=parent[keys.CONFIG], clock=parent[keys.CLOCK], db=parent[keys.DATABASE], catalog=parent[keys.CATALOG]
    )
    holder.bootstrapped = True
