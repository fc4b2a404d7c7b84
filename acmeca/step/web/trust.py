"""Public trust endpoints: health, version, roots, intermediates, federation, provisioners (step-ca §1.3)."""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from acmeca import __version__
from acmeca.config import JWKProvisionerConfig
from acmeca.crypto import certs
from acmeca.domain.errors import Malformed, NotFound, NotImplementedYet, ServiceUnavailable
from acmeca.edge.keys import CATALOG, DATABASE_STATE, ENGINE, TRUST
from acmeca.step.web.keys import route_name

DEFAULT_PAGE = 20
MAX_PAGE = 100
PEM_BUNDLE = "application/x-pem-file"


async def health(request: web.Request) -> web.Response:
    """Readiness by default: 503 while the database is unavailable, so a load balancer sends traffic elsewhere.

    The answer is the state the background probe and the requests last saw (acmeca.store.outages), never a
    query per call. ``?probe=live`` is liveness: 200 for as long as the process serves, whatever the database
    does, so an orchestrator does not restart every replica during a database outage.
    """
    probe = request.query.get("probe", "ready")
    if probe not in ("ready", "live"):
        raise Malformed("probe must be 'ready' or 'live'")
    if probe == "ready" and not request.app[DATABASE_STATE].available:
        raise ServiceUnavailable("not ready: the database is unavailable")
    return web.json_response({"status": "ok"})


async def version(request: web.Request) -> web.Response:
    # step-ca omits requireClientAuthentication when false; so do we.
    return web.json_response({"version": __version__})


async def root(request: web.Request) -> web.Response:
    fingerprint = request.match_info["sha"].replace("-", "").lower()
    found = request.app[TRUST].root_by_fingerprint(fingerprint)
    if found is None:
        raise NotFound(f'root certificate with fingerprint "{fingerprint}" was not found')
    return web.json_response({"ca": certs.to_pem(found)})


async def roots(request: web.Request) -> web.Response:
    return web.json_response({"crts": [certs.to_pem(c) for c in request.app[TRUST].roots]}, status=201)


async def roots_pem(request: web.Request) -> web.Response:
    body = "".join(certs.to_pem(c) for c in request.app[TRUST].roots)
    return web.Response(text=body, content_type=PEM_BUNDLE)


async def intermediates(request: web.Request) -> web.Response:
    found = request.app[ENGINE].intermediates()  # the running ones: SIGHUP may rotate the intermediate
    if not found:
        raise NotImplementedYet("intermediate certificates are not loaded")
    return web.json_response({"crts": [certs.to_pem(c) for c in found]}, status=201)


async def intermediates_pem(request: web.Request) -> web.Response:
    body = "".join(certs.to_pem(c) for c in request.app[ENGINE].intermediates())
    return web.Response(text=body, content_type=PEM_BUNDLE)


async def federation(request: web.Request) -> web.Response:
    return web.json_response({"crts": [certs.to_pem(c) for c in request.app[TRUST].federation]}, status=201)


def _page_window(request: web.Request, total: int) -> tuple[int, int]:
    raw_limit = request.query.get("limit", "")
    raw_cursor = request.query.get("cursor", "")
    if raw_limit == "":
        limit = DEFAULT_PAGE
    else:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise Malformed(f"limit '{raw_limit}' is not an integer") from None
        if limit <= 0:
            limit = DEFAULT_PAGE
    limit = min(limit, MAX_PAGE)
    if raw_cursor == "":
        return 0, limit
    try:
        start = int(raw_cursor, 16)
    except ValueError:
        raise Malformed(f"cursor '{raw_cursor}' is not valid") from None
    if not 0 <= start <= total:
        raise Malformed(f"cursor '{raw_cursor}' is not valid")
    return start, limit


def public_document(document: dict[str, Any]) -> dict[str, Any]:
    """What /provisioners shows: the ca.json object with secrets redacted (JWK keep encryptedKey)."""
    shown = dict(document)
    if str(shown.get("type", "")).upper() == "SCEP" and shown.get("challengePassword"):
        shown["challengePassword"] = "*** REDACTED ***"
    return shown


async def provisioners(request: web.Request) -> web.Response:
    entries = await request.app[CATALOG].all()
    start, limit = _page_window(request, len(entries))
    page = entries[start : start + limit]
    end = start + len(page)
    next_cursor = format(end, "x") if end < len(entries) else ""
    return web.json_response(
        {"provisioners": [public_document(e.document) for e in page], "nextCursor": next_cursor}
    )


async def encrypted_key(request: web.Request) -> web.Response:
    kid = request.match_info["kid"]
    for entry in await request.app[CATALOG].all():
        config = entry.config
        if isinstance(config, JWKProvisionerConfig) and config.kid == kid and config.encrypted_key:
            return web.json_response({"key": config.encrypted_key})
    raise NotFound(f"encrypted key with kid '{kid}' was not found")


def add_trust_routes(app: web.Application, prefix: str) -> None:
    r, name = app.router, functools.partial(route_name, prefix)
    r.add_get(f"{prefix}/health", health, name=name("health"))
    r.add_get(f"{prefix}/version", version, name=name("version"))
    r.add_get(prefix + "/root/{sha}", root, name=name("root"))
    r.add_get(f"{prefix}/roots", roots, name=name("roots"))
    r.add_get(f"{prefix}/roots.pem", roots_pem, name=name("roots-pem"))
    r.add_get(f"{prefix}/intermediates", intermediates, name=name("intermediates"))
    r.add_get(f"{prefix}/intermediates.pem", intermediates_pem, name=name("intermediates-pem"))
    r.add_get(f"{prefix}/federation", federation, name=name("federation"))
    r.add_get(f"{prefix}/provisioners", provisioners, name=name("provisioners"))
    r.add_get(prefix + "/provisioners/{kid}/encrypted-key", encrypted_key, name=name("encrypted-key"))
