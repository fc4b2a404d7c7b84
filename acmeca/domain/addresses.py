"""Network addresses as operators write them in ca.json: listen addresses and DNS resolver addresses.

Both are parsed where the configuration is loaded (a typo must stop the server at start, not fail the first
challenge), and again where they are used, so they live in the vocabulary every layer shares.
"""

from __future__ import annotations

import ipaddress

DEFAULT_DNS_PORT = 53


def parse_listen_address(address: str) -> tuple[str, int]:
    """Split step-ca's ``":443"`` / ``"127.0.0.1:8443"`` / ``"[::1]:443"`` form; ValueError says what is wrong."""
    if not isinstance(address, str):
        raise ValueError(f"address {address!r} must be host:port, e.g. ':443'")
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"address {address!r} must be host:port, e.g. ':443'")
    return host.strip("[]"), int(port)


def parse_resolver(text: str) -> tuple[str, int]:
    """Split ``"127.0.0.1:8053"``, ``"[::1]:8053"``, ``"::1"`` or ``"127.0.0.1"`` into (address, port).

    The resolver must be an address: resolving the resolver's own name would need a resolver.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"resolver {text!r} must be an address, e.g. '127.0.0.1:53'")
    host, port_text = text, ""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"resolver {text!r} is not [address]:port")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"resolver {text!r} must be an IP address with an optional port, not a name") from None
    if port_text == "":
        return str(address), DEFAULT_DNS_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"resolver {text!r} has an invalid port")
    return str(address), int(port_text)
