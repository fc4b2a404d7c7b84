"""A tiny synchronous HTTPS client for tests that talk to a subprocess server."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    url: str,
    *,
    root: Path | None,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> Reply:
    if context is None:
        context = ssl.create_default_context(cafile=str(root)) if root else ssl.create_default_context()
    data = None
    send = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        send.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=send)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())
