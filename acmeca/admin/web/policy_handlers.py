"""Handlers for policies at three levels and for ACME EAB keys."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from acmeca.admin.service import linkedca_schema as schema
from acmeca.admin.service.policies import PolicyTarget, authority_target, eab_key_target, provisioner_target
from acmeca.admin.web.context import identity, services
from acmeca.admin.web.requests import json_body, ok, paging
from acmeca.domain.errors import MethodNotAllowed


async def _target(request: web.Request) -> PolicyTarget:
    match = request.match_info
    if "key" in match or "reference" in match:
        key = await services(request).eab.key(
            match["provisioner"], key_id=match.get("key"), reference=match.get("reference")
        )
        return eab_key_target(key.id)
    if "provisioner" in match:
        entry = await services(request).provisioners.entry(match["provisioner"])
        return provisioner_target(entry.id, entry.name)
    return authority_target()


def _policy_json(document: dict[str, Any], status: int = 200) -> web.Response:
    """linkedca ``Policy`` as protojson writes it (no ``allowWildcardNames: false``)."""
    return web.json_response(schema.encode("Policy", document, strict=False), status=status)


async def policy(request: web.Request) -> web.Response:
    """One handler for GET/POST/PUT/DELETE on every policy level; bodies are linkedca ``Policy`` messages."""
    target = await _target(request)
    service = services(request).policies
    if request.method == "GET":
        return _policy_json(await service.get(target))
    if request.method == "DELETE":
        await service.delete(identity(request), target)
        return ok()
    if request.method not in ("POST", "PUT"):
        raise MethodNotAllowed(f"method {request.method} is not allowed here",
                               allowed=["GET", "POST", "PUT", "DELETE"])
    body = schema.decode("Policy", await json_body(request))
    if request.method == "POST":
        return _policy_json(await service.create(identity(request), target, body), status=201)
    return _policy_json(await service.update(identity(request), target, body))


async def list_eab_keys(request: web.Request) -> web.Response:
    cursor, limit = paging(request)
    keys, next_cursor = await services(request).eab.page(
        request.match_info["provisioner"], reference=request.match_info.get("reference"), cursor=cursor, limit=limit
    )
    return web.json_response({"eaks": keys, "nextCursor": next_cursor})


async def add_eab_key(request: web.Request) -> web.Response:
    body = await json_body(request)
    key = await services(request).eab.add(identity(request), request.match_info["provisioner"], body)
    return web.json_response(key, status=201)


async def delete_eab_key(request: web.Request) -> web.Response:
    await services(request).eab.delete(identity(request), request.match_info["provisioner"], request.match_info["id"])
    return ok()
