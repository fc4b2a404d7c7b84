"""The admin sub-application, mounted by the server at ``/admin/``.

It answers only when ``authority.enableAdmin`` is true (404 otherwise, as upstream's router does, which
is also how the CLI decides to edit ca.json instead). Every route needs an admin token; every error is an
admin error body; nothing unexpected ever reaches the client as a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from acmeca.admin.web import handlers as h
from acmeca.admin.web import policy_handlers as p
from acmeca.admin.web import renewal_handlers
from acmeca.admin.web.context import IDENTITY, services
from acmeca.admin.web.errors import render_admin_error
from acmeca.domain.errors import NotFound
from acmeca.edge import keys
from acmeca.edge.middleware import error_guard

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.config_dict[keys.CONFIG].current.authority.enable_admin:
        raise NotFound("the requested resource could not be found")
    authorization = request.headers.get("Authorization")
    request[IDENTITY] = await services(request).auth.authenticate(
        authorization, path=request.path, host=request.host
    )
    return await handler(request)


_GUARD = error_guard(render_admin_error)


@web.middleware
async def admin_edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The switch and authentication run inside the shared guard, so their failures are admin errors too."""
    return await _GUARD(request, functools.partial(_answer, handler=handler))


def add_routes(app: web.Application) -> None:
    r = app.router
    """Routes are named (the route label of the HTTP metrics); the methods of one path share its name."""
    r = app.router
    r.add_get("/admins", h.list_admins, name="admins")
    r.add_post("/admins", h.create_admin, name="admins")
    r.add_get("/admins/{id}", h.get_admin, name="admin")
    r.add_patch("/admins/{id}", h.update_admin, name="admin")
    r.add_delete("/admins/{id}", h.delete_admin, name="admin")
    r.add_get("/provisioners", h.list_provisioners, name="provisioners")
    r.add_post("/provisioners", h.create_provisioner, name="provisioners")
    r.add_get("/provisioners/{name}", h.get_provisioner, name="provisioner")
    r.add_put("/provisioners/{name}", h.update_provisioner, name="provisioner")
    r.add_delete("/provisioners/{name}", h.delete_provisioner, name="provisioner")
    for name, path in (("policy", "/policy"), ("provisioner-policy", "/provisioners/{provisioner}/policy"),
                       ("eab-key-policy", "/acme/policy/{provisioner}/key/{key}"),
                       ("eab-reference-policy", "/acme/policy/{provisioner}/reference/{reference}")):
        r.add_route("*", path, p.policy, name=name)
    r.add_get("/acme/eab/{provisioner}", p.list_eab_keys, name="eab-keys")
    r.add_post("/acme/eab/{provisioner}", p.add_eab_key, name="eab-keys")
    r.add_get("/acme/eab/{provisioner}/{reference}", p.list_eab_keys, name="eab-keys-by-reference")
    r.add_delete("/acme/eab/{provisioner}/{id}", p.delete_eab_key, name="eab-key")
    r.add_post("/acme/renewal-info", renewal_handlers.suggest_early_renewal, name="renewal-info")


def create_admin_app() -> web.Application:
    """The admin sub-application; its services come from the root application (the composition root)."""
    app = web.Application(middlewares=[admin_edge])
    app[keys.FRONT_END] = "admin"
    add_routes(app)
    return app
