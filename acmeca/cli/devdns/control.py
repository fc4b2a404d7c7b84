"""The control channel of ``acmeca dev dns``: JSON over HTTP on loopback, for ACME clients' dns-01 hooks.

Names follow pebble-challtestsrv: ``POST /add-txt {"host", "value"}``, ``/clear-txt {"host"[, "value"]}``,
``/add-record {"host", "type", "value"}``, ``/clear-record {"host", "type"[, "value"]}``, ``/set-nxdomain``,
``/set-servfail``, ``/clear-failure {"host"}``, ``/reset``; ``GET /health``. It changes records without
authentication, so it listens only where it is told (loopback in every example).
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dns.exception

Apply = Callable[[str, dict[str, Any]], None]
"""Applies one control request (path, JSON body); KeyError, ValueError or a DNSException refuse it."""


def control_server(apply: Apply, dns_address: str, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) that hands each request to ``apply``; /health names the DNS address."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(200 if self.path == "/health" else 404, {"dns": dns_address})

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                apply(self.path, body)
            except KeyError as exc:
                self._reply(404 if str(exc).strip("'") == self.path else 400, {"error": f"missing {exc}"})
            except (ValueError, dns.exception.DNSException) as exc:
                self._reply(400, {"error": str(exc)})
            else:
                self._reply(200, {})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("_ControlServer", (ThreadingHTTPServer,), {"address_family": family})
    server: ThreadingHTTPServer = server_class((host, port), Handler)
    server.daemon_threads = True
    return server


class ControlFailed(Exception):
    """The control channel refused a request or could not be reached."""


def control(url: str, path: str, **body: Any) -> None:
    """Send one control request (what hook scripts do); ControlFailed on anything but 200."""
    request = urllib.request.Request(
        url.rstrip("/") + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise ControlFailed(f"{url}{path} answered {exc.code}: {exc.read().decode(errors='replace')}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ControlFailed(f"cannot reach the control channel {url}: {exc}") from None
    if status != 200:
        raise ControlFailed(f"{url}{path} answered {status}")
