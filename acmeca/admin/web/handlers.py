"""Handlers for admins and provisioners (``/admin/admins``, ``/admin/provisioners``)."""

from __future__ import annotations

from aiohttp import web

from acmeca.admin.web.context import identity, services
from acmeca.admin.web.requests import json_body, ok, paging


async def list_admins(request: web.Request) -> web.Response:
    cursor, limit = paging(request)
    admins, next_cursor = await services(request).admins.page(cursor, limit)
    return web.json_response({"admins": admins, "nextCursor": next_cursor})


async def get_admin(request: web.Request) -> web.Response:
    return web.json_response(await services(request).admins.get(request.match_info["id"]))


async def create_admin(request: web.Request) -> web.Response:
    body = await json_body(request)
    return web.json_response(await services(request).admins.create(identity(request), body), status=201)


async def update_admin(request: web.Request) -> web.Response:
    body = await json_body(request)
    admin_id = request.match_info["id"]
    return web.json_response(await services(request).admins.update(identity(request), admin_id, body))


async def delete_admin(request: web.Request) -> web.Response:
    await services(request).admins.delete(identity(request), request.match_info["id"])
    return ok()


async def list_provisioners(request: web.Request) -> web.Response:
    cursor, limit = paging(request)
    items, next_cursor = await services(request).provisioners.page(cursor, limit)
    return web.json_response({"provisioners": items, "nextCursor": next_cursor})


async def get_provisioner(request: web.Request) -> web.Response:
    service = services(request).provisioners
    entry = await service.entry(request.match_info["name"], request.query.get("id") or None)
    return web.json_response(await service.linked(entry))


async def create_provisioner(request: web.Request) -> web.Response:
    body = await json_body(request)
    return web.json_response(await services(request).provisioners.create(identity(request), body), status=201)


async def update_provisioner(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = request.match_info["name"]
    return web.json_response(await services(request).provisioners.update(identity(request), name, body))


async def delete_provisioner(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    await services(request).provisioners.delete(identity(request), name, request.query.get("id") or None)
    return ok()
