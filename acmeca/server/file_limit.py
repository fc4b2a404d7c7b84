"""The open-file limit (RLIMIT_NOFILE) a connection cap needs, raised at start as far as the hard limit allows.

Every connection is a file descriptor, and so is every database connection, log file and listening socket.
Many systems start processes with a soft limit of 1024 and a far higher hard limit, so a process that never
raises its soft limit fails with EMFILE long before its configured cap: the cap would be a lie. Raising the
soft limit to the hard limit is what Go's runtime does for every program; a configured cap that even the hard
limit cannot hold is refused at start, in one line, rather than discovered under load. The default cap is
lowered instead (with a warning), so that a host with a low hard limit still starts.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from acmeca.server.database import StartupError

log = logging.getLogger(__name__)

# Descriptors kept for everything that is not a client connection: the database pool, log files, the
# listening socket, the CPU executor, files read on SIGHUP, DNS and validation sockets.
RESERVED_FILES = 256


@dataclass(frozen=True)
class FileLimit:
    soft: int
    hard: int


def needed_files(max_connections: int) -> int:
    return max_connections + RESERVED_FILES


def target_soft_limit(current: FileLimit, needed: int) -> int:
    """The soft limit to ask for: the hard limit, or, when that is unlimited, what is needed (never lower)."""
    if current.hard == resource.RLIM_INFINITY:
        return max(current.soft, needed) if current.soft != resource.RLIM_INFINITY else current.soft
    return current.hard


def _holds(soft: int, needed: int) -> bool:
    return soft == resource.RLIM_INFINITY or soft >= needed


def ensure_file_limit(max_connections: int) -> int:
    """Raise the soft RLIMIT_NOFILE for ``max_connections``; the resulting soft limit, or StartupError."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    current = FileLimit(soft, hard)
    needed = needed_files(max_connections)
    target = target_soft_limit(current, needed)
    if target != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit", extra={"soft": soft, "wanted": target,
                                                                     "reason": str(exc)})
    if not _holds(soft, needed):
        raise StartupError(
            f"server.maxConnections {max_connections} needs {needed} open files ({RESERVED_FILES} kept for the "
            f"database, logs and the listener) but the open-file limit is {soft}; lower server.maxConnections "
            "or raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit)"
        )
    return soft


def connection_cap(max_connections: int, *, explicit: bool) -> int:
    """The connection cap this process can hold: a cap set in ca.json is held or refused (StartupError); the
    default one is lowered, with a warning, to what the open-file limit holds."""
    try:
        ensure_file_limit(max_connections)
        return max_connections
    except StartupError:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        lowered = soft - RESERVED_FILES
        if explicit or lowered < 1:
            raise
        log.warning("server.maxConnections lowered to what the open-file limit holds",
                    extra={"max_connections": lowered, "open_file_limit": soft})
        return lowered
