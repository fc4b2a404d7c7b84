"""Request parsing shared by the admin handlers: JSON bodies and cursor/limit pagination."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from acmeca.domain.errors import Malformed
from acmeca.domain.json_limits import loads_limited

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = loads_limited(await request.text() or "null")
    except (ValueError, UnicodeDecodeError):
        raise Malformed("error reading request body: not valid JSON") from None
    if not isinstance(body, dict):
        raise Malformed("request body must be a JSON object")
    return body


def paging(request: web.Request) -> tuple[str, int]:
    cursor = request.query.get("cursor", "")
    text = request.query.get("limit", "")
    if not text:
        return cursor, DEFAULT_LIMIT
    if not text.isdigit() or not 0 < int(text) <= MAX_LIMIT:
        raise Malformed(f"limit must be a number between 1 and {MAX_LIMIT}")
    return cursor, int(text)


def ok() -> web.Response:
    return web.json_response({"status": "ok"})
