"""The ``"server"`` section: how long a connection may idle or take to send a request, and how many are open.

Without these a client holds a connection (a file descriptor, TLS buffers, an aiohttp handler) for as long as
it likes: by opening and never sending, by trickling a request a byte at a time, or by idling after one
request. The limits are per process: each ``acmeca serve`` process (each worker, once there are several)
enforces its own. They apply at start only: the listener is built once, so SIGHUP names a change as needing
a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from acmeca.config.registry import Key, Reader, Reload, section

_ONE_SECOND = timedelta(seconds=1)
MAX_CONNECTIONS_LIMIT = 1_000_000

SERVER = section("server", "Connection limits of the HTTPS listener (per process).", (
    Key("idleTimeout", "duration", "A keep-alive connection waiting for its next request is closed after this "
        "long; at least 1s.", Reload.RESTART, default="60s"),
    Key("requestTimeout", "duration", "Time allowed to receive one request in full (headers and body), counted "
        "from its first byte; a new connection's first request (and its TLS handshake) from the moment it is "
        "accepted. Late partial headers get 408 and a close, a late body 408, silence a close; at least 1s.",
        Reload.RESTART, default="30s"),
    Key("maxConnections", "number", "Open connections per process (TLS handshakes included); each costs about "
        "0.3 MB. At the cap the server stops accepting (newcomers wait in the kernel's listen queue) until one "
        "closes. `serve` raises its open-file limit (RLIMIT_NOFILE) to the hard limit and refuses a cap set here "
        "that limit cannot hold with 256 files to spare; the default is lowered to fit instead.", Reload.RESTART,
        default="1024"),
))


@dataclass(frozen=True)
class ServerSettings:
    idle_timeout: timedelta = timedelta(seconds=60)
    request_timeout: timedelta = timedelta(seconds=30)
    max_connections: int = 1024
    max_connections_set: bool = False  # in ca.json: held or refused; the default is lowered to fit the file limit


def read_server(reader: Reader) -> ServerSettings:
    defaults = ServerSettings()
    return ServerSettings(
        idle_timeout=reader.duration("idleTimeout", defaults.idle_timeout, minimum=_ONE_SECOND),
        request_timeout=reader.duration("requestTimeout", defaults.request_timeout, minimum=_ONE_SECOND),
        max_connections=reader.integer("maxConnections", defaults.max_connections, minimum=1,
                                       maximum=MAX_CONNECTIONS_LIMIT),
        max_connections_set=reader.raw("maxConnections") is not None,
    )
