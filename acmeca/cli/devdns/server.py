"""The sockets of ``acmeca dev dns``: dnspython messages over UDP and TCP on one port, answered from a RecordStore.

Blocking ``socketserver`` threads rather than asyncio: the server runs beside code that owns its own event
loop (a test's, or ``acmeca serve`` in the same interpreter) and must keep answering while that loop is busy.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.rcode

from acmeca.cli.devdns.control import control_server
from acmeca.cli.devdns.records import RecordStore

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


def authority(host: str, port: int) -> str:
    """``host:port``, IPv6 in brackets, as ca.json's ``validation.resolver`` and URLs want it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class DNSServer:
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
        control_host: str | None = None,
        follow_cnames: bool = True,
    ) -> None:
        """The defaults make every name resolve to loopback (what tests want); ``zones=()`` serves only the
        records added. ``follow_cnames=False`` answers like an authoritative server: a CNAME alone."""
        self.host = host
        self.store = RecordStore(zones, default_ipv4, default_ipv6)
        self.store.follow_cnames = follow_cnames
        self._requested_port = port
        self._control = (control_host or host, control_port) if control_port is not None else None
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0
        self.control_url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> DNSServer:
        udp, tcp = self._bind()
        self.port = udp.server_address[1]
        self._servers = [udp, tcp]
        if self._control is not None:
            control = control_server(self.apply_control, self.address, *self._control)
            self._servers.append(control)
            self.control_url = f"http://{authority(self._control[0], control.server_address[1])}"
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _bind(self) -> tuple[_UDPServer, _TCPServer]:
        """UDP and TCP on the same port; with port 0, retry until a port is free for both."""
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

    def __enter__(self) -> DNSServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """``host:port`` as ca.json's ``validation.resolver`` wants it."""
        return authority(self.host, self.port)

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

    def apply_control(self, path: str, body: dict[str, Any]) -> None:
        """One control-channel request; KeyError for an unknown path or a missing field."""
        host = str(body.get("host", ""))
        value = body.get("value")
        actions: dict[str, Callable[[], None]] = {
            "/add-txt": lambda: self.add_txt(host, str(value)),
            "/set-txt": lambda: self.add_txt(host, str(value)),
            "/clear-txt": lambda: self.remove_txt(host, *([str(value)] if value is not None else [])),
            "/add-record": lambda: self.add_record(host, str(body["type"]), str(value)),
            "/clear-record": lambda: self.remove_record(host, str(body["type"]), value),
            "/set-nxdomain": lambda: self.set_nxdomain(host),
            "/set-servfail": lambda: self.set_servfail(host),
            "/clear-failure": lambda: self.clear_failure(host),
            "/reset": self.reset,
        }
        if path not in actions:
            raise KeyError(path)
        actions[path]()
