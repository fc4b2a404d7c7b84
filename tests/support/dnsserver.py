"""A real DNS server for tests: dnspython on UDP and TCP, one free port, records that tests add and remove.

It answers the way a recursive resolver would for the names it knows: CNAME chains are followed and the
whole chain is returned. By default every name under the configured zones (everything, unless told
otherwise) has A 127.0.0.1 and AAAA ::1, so any test name points at this machine; explicit A/AAAA records
replace both defaults for that name. Tests can add TXT, CNAME, CAA, SOA, NS, A and AAAA records and make
a name answer NXDOMAIN or SERVFAIL.

Use it in-process (``with DNSTestServer() as dns: ...``) or as a process for hook scripts of real ACME
clients::

    python -m tests.support.dnsserver --port 8053 --control-port 8055
    python -m tests.support.dnsserver add-txt --control http://127.0.0.1:8055 _acme-challenge.a.test VALUE

The control channel is a small JSON-over-HTTP API on loopback (names follow pebble-challtestsrv):
``POST /add-txt {"host", "value"}``, ``/clear-txt {"host"[, "value"]}``, ``/add-record {"host", "type",
"value"}``, ``/clear-record {"host", "type"[, "value"]}``, ``/set-nxdomain``, ``/set-servfail``,
``/clear-failure {"host"}``, ``/reset``; ``GET /health``.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import socketserver
import sys
import threading
import urllib.request
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from tests.support.dnsrecords import RecordStore

UDP_PAYLOAD = 512


def _wire_response(store: RecordStore, data: bytes, *, udp: bool) -> bytes | None:
    try:
        query = dns.message.from_wire(data)
    except dns.exception.DNSException:
        return None
    response = store.answer(query)
    if not udp:
        return response.to_wire()
    limit = max(UDP_PAYLOAD, query.payload if query.edns >= 0 else UDP_PAYLOAD)
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.TC
        return truncated.to_wire()


class _UDPHandler(socketserver.BaseRequestHandler):
    server: _UDPServer

    def handle(self) -> None:
        data, sock = self.request
        wire = _wire_response(self.server.store, data, udp=True)
        if wire is not None:
            sock.sendto(wire, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5)
        try:
            while True:
                header = _recv_exact(conn, 2)
                if header is None:
                    return
                data = _recv_exact(conn, int.from_bytes(header, "big"))
                if data is None:
                    return
                wire = _wire_response(self.server.store, data, udp=False)
                if wire is None:
                    return
                conn.sendall(len(wire).to_bytes(2, "big") + wire)
        except OSError:
            return


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    chunks = b""
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


class _UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True
    store: RecordStore


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    store: RecordStore


class DNSTestServer:
    """UDP + TCP DNS on one port, plus an optional HTTP control channel; start/stop or use as a context."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        zones: Iterable[str] = (".",),
        default_ipv4: str | None = "127.0.0.1",
        default_ipv6: str | None = "::1",
        control_port: int | None = None,
        follow_cnames: bool = True,
    ) -> None:
        """``follow_cnames=False`` answers like an authoritative server: a CNAME alone, never its target."""
        self.host = host
        self.store = RecordStore(zones, default_ipv4, default_ipv6)
        self.store.follow_cnames = follow_cnames
        self._requested_port = port
        self._control_port = control_port
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0
        self.control_url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> DNSTestServer:
        udp, tcp = self._bind()
        self.port = udp.server_address[1]
        self._servers = [udp, tcp]
        if self._control_port is not None:
            control = _control_server(self, self.host, self._control_port)
            self._servers.append(control)
            authority = f"[{self.host}]" if ":" in self.host else self.host
            self.control_url = f"http://{authority}:{control.server_address[1]}"
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _bind(self) -> tuple[_UDPServer, _TCPServer]:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        udp_class = type("_UDPServerForFamily", (_UDPServer,), {"address_family": family})
        tcp_class = type("_TCPServerForFamily", (_TCPServer,), {"address_family": family})
        for _ in range(50):
            udp = udp_class((self.host, self._requested_port), _UDPHandler)
            try:
                tcp = tcp_class((self.host, udp.server_address[1]), _TCPHandler)
            except OSError:
                udp.server_close()
                if self._requested_port:
                    raise
                continue
            udp.store = tcp.store = self.store
            return udp, tcp
        raise OSError("no port free for both UDP and TCP")

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> DNSTestServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """``host:port`` as ca.json's ``validation.resolver`` wants it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    # -- records -----------------------------------------------------------------------------------
    def add_record(self, host: str, rdtype: str, value: str) -> None:
        self.store.add(host, rdtype, value)

    def remove_record(self, host: str, rdtype: str, value: str | None = None) -> None:
        self.store.remove(host, rdtype, value)

    def add_txt(self, host: str, *strings: str) -> None:
        """One TXT record; several strings make a multi-string record (joined by validators)."""
        self.store.add(host, "TXT", " ".join(json.dumps(s) for s in strings))

    def remove_txt(self, host: str, *strings: str) -> None:
        self.store.remove(host, "TXT", " ".join(json.dumps(s) for s in strings) if strings else None)

    def add_a(self, host: str, address: str) -> None:
        self.store.add(host, "A", address)

    def add_aaaa(self, host: str, address: str) -> None:
        self.store.add(host, "AAAA", address)

    def add_cname(self, host: str, target: str) -> None:
        self.store.add(host, "CNAME", target.rstrip(".") + ".")

    def add_caa(self, host: str, tag: str, value: str, flags: int = 0) -> None:
        self.store.add(host, "CAA", f"{flags} {tag} {json.dumps(value)}")

    def set_nxdomain(self, host: str) -> None:
        self.store.set_failure(host, dns.rcode.NXDOMAIN)

    def set_servfail(self, host: str, *, times: int | None = None) -> None:
        """SERVFAIL for ``host``; with ``times``, only for that many queries (a transient outage)."""
        self.store.set_failure(host, dns.rcode.SERVFAIL, times)

    def clear_failure(self, host: str) -> None:
        self.store.set_failure(host, None)

    def reset(self) -> None:
        self.store.reset()

    @property
    def queries(self) -> list[tuple[str, str]]:
        return list(self.store.queries)


# -- control channel ---------------------------------------------------------------------------------
def _apply(server: DNSTestServer, path: str, body: dict[str, Any]) -> None:
    host = str(body.get("host", ""))
    value = body.get("value")
    actions = {
        "/add-txt": lambda: server.add_txt(host, str(value)),
        "/set-txt": lambda: server.add_txt(host, str(value)),
        "/clear-txt": lambda: server.remove_txt(host, *([str(value)] if value is not None else [])),
        "/add-record": lambda: server.add_record(host, str(body["type"]), str(value)),
        "/clear-record": lambda: server.remove_record(host, str(body["type"]), value),
        "/set-nxdomain": lambda: server.set_nxdomain(host),
        "/set-servfail": lambda: server.set_servfail(host),
        "/clear-failure": lambda: server.clear_failure(host),
        "/reset": server.reset,
    }
    if path not in actions:
        raise KeyError(path)
    actions[path]()


def _control_server(dns_server: DNSTestServer, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(200 if self.path == "/health" else 404, {"dns": dns_server.address})

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                _apply(dns_server, self.path, body)
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


def control(url: str, path: str, **body: Any) -> None:
    """Send one control request (for hook scripts); raises on anything but 200."""
    request = urllib.request.Request(
        url.rstrip("/") + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 200:
            raise RuntimeError(f"control {path} answered {response.status}")


# -- command line ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)
    if args.command in ("add-txt", "clear-txt"):
        control(args.control, "/" + args.command, host=args.host_arg, value=args.value)
        return 0
    server = DNSTestServer(args.host, args.port, zones=args.zone or ["."], control_port=args.control_port)
    server.start()
    print(json.dumps({"dns": server.address, "control": server.control_url}), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.support.dnsserver", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=["serve", "add-txt", "clear-txt"], default="serve")
    parser.add_argument("host_arg", nargs="?", metavar="NAME", help="record name (add-txt/clear-txt)")
    parser.add_argument("value", nargs="?", help="TXT value (add-txt/clear-txt)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (serve)")
    parser.add_argument("--port", type=int, default=0, help="DNS port, UDP and TCP (serve; 0 = free port)")
    parser.add_argument("--control-port", type=int, default=0, help="HTTP control port (serve; 0 = free port)")
    parser.add_argument("--control", help="control URL (add-txt/clear-txt)")
    parser.add_argument("--zone", action="append", help="zone whose names get default A/AAAA (repeatable)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
