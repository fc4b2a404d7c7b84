"""The hosts file (``/etc/hosts``), consulted before DNS when ca.json names no ``validation.resolver``.

step-ca validates through Go's resolver, which answers from /etc/hosts first; operators moving from it (and a
demo on a laptop) expect a name pinned there to be reached. dnspython never reads the file, and
``socket.getaddrinfo`` would also query DNS through the C library (blocking, cached by nscd or resolved, and
blind to the NXDOMAIN/SERVFAIL difference the dispatcher needs), so this tiny parser reads the file itself and
DNS stays with dnspython. The file is read on every lookup, in a thread: an edit applies to the next
validation, as nothing in validation is cached. ``denyPrivateAddresses`` filters these addresses exactly as
it filters DNS answers, since both go through the same target selection.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

SYSTEM_HOSTS = Path("/etc/hosts")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_hosts(text: str) -> dict[str, list[IPAddress]]:
    """Name -> addresses, in file order: ``address name [alias...]`` per line, ``#`` starts a comment.

    Names are matched without case and without a final dot; lines whose address does not parse are skipped
    (the C library skips them too).
    """
    table: dict[str, list[IPAddress]] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = ipaddress.ip_address(fields[0])
        except ValueError:
            continue
        for name in fields[1:]:
            found = table.setdefault(name.lower().rstrip("."), [])
            if address not in found:
                found.append(address)
    return table


def lookup(path: Path, name: str) -> list[IPAddress]:
    """The addresses ``path`` gives ``name``; none when the file lacks the name or cannot be read.

    Blocking (a file read): call it off the event loop.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return parse_hosts(text).get(name.lower().rstrip("."), [])
