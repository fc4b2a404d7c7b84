"""Keeping the bench to itself: loopback only, and its own network namespace so :80 is free for step-ca.

``make bench`` re-executes itself under ``unshare -n`` (a new network namespace whose only interface is its
own loopback, brought up first); nothing on the host can collide with its ports, and no PostgreSQL of the
host is reachable there, which is why the bench starts its own cluster. ``--no-netns`` skips this.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import sys
from urllib.parse import urlsplit

NETNS_MARK = "ACMECA_BENCH_NETNS"  # set in the re-executed bench, so it does not re-execute again


class NotLoopback(Exception):
    """The bench was pointed at something other than this machine's loopback."""


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP literal; any other name is refused without being resolved."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(address: str) -> str:
    """``address`` (a URL, a DSN or host:port) unchanged if its host is loopback; NotLoopback otherwise."""
    host = urlsplit(address if "://" in address else f"//{address}").hostname or ""
    if not is_loopback_host(host):
        raise NotLoopback(f"refusing to load {address!r}: the bench runs against loopback only")
    return address


def in_own_netns() -> bool:
    return os.environ.get(NETNS_MARK) == "1"


def reexec_in_netns(argv: list[str]) -> None:
    """Replace this process with the same command inside a fresh network namespace (needs root)."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        raise SystemExit("the bench needs root and unshare(1) for its own network namespace; or pass --no-netns")
    os.environ[NETNS_MARK] = "1"
    script = 'ip link set lo up && exec "$@"'
    os.execv(unshare, [unshare, "-n", "--", "sh", "-c", script, "sh", sys.executable, *argv])
