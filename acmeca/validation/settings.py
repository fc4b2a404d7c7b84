"""Validation settings from ``ca.json``: a top-level ``"validation"`` object, overridden per ACME provisioner.

The key names are a contract with operators and external test suites (they point ``resolver`` at their own
DNS server and move the challenge ports), so they are spelled exactly as documented and typos are refused
rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from acmeca.domain.durations import parse_duration
from acmeca.domain.errors import Malformed
from acmeca.validation.resolver import parse_server


def _port(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(f"validation.{key} must be a port number between 1 and 65535, not {value!r}")
    return value


def _duration(key: str, value: Any) -> timedelta:
    try:
        duration = value if isinstance(value, timedelta) else parse_duration(value)
    except Malformed:
        raise ValueError(f'validation.{key} must be a duration such as "10s", not {value!r}') from None
    if duration <= timedelta(0):
        raise ValueError(f"validation.{key} must be positive, not {value!r}")
    return duration


def _resolver(key: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    parse_server(value)  # raises ValueError naming the bad value
    return str(value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"validation.{key} must be true or false, not {value!r}")
    return value


# ca.json key -> (dataclass field, parser)
_KEYS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "resolver": ("resolver", _resolver),
    "http01Port": ("http01_port", _port),
    "tlsAlpn01Port": ("tls_alpn01_port", _port),
    "timeout": ("timeout", _duration),
    "denyPrivateAddresses": ("deny_private_addresses", _flag),
    "caaRecheckAfter": ("caa_recheck_after", _duration),
}


@dataclass(frozen=True)
class ValidationSettings:
    """Everything a validator needs to know about where and how long to look."""

    resolver: str | None = None
    http01_port: int = 80
    tls_alpn01_port: int = 443
    timeout: timedelta = timedelta(seconds=10)
    deny_private_addresses: bool = False
    caa_recheck_after: timedelta = timedelta(hours=7)

    @classmethod
    def from_config(
        cls, top_level: Mapping[str, Any] | None, provisioner_override: Mapping[str, Any] | None = None
    ) -> ValidationSettings:
        """Merge the provisioner's ``validation`` object over the top-level one, key by key.

        Raises ValueError with the offending key and value; unknown keys are refused so a typo such as
        ``http01port`` cannot quietly leave validation on port 80.
        """
        values: dict[str, Any] = {}
        for where, document in (("validation", top_level), ("provisioner validation", provisioner_override)):
            if document is None:
                continue
            if not isinstance(document, Mapping):
                raise ValueError(f"{where} must be an object")
            for key, value in document.items():
                if key not in _KEYS:
                    known = ", ".join(_KEYS)
                    raise ValueError(f"{where}: unknown key {key!r} (known keys: {known})")
                field_name, parse = _KEYS[key]
                values[field_name] = parse(key, value)
        return cls(**values)

    @property
    def timeout_seconds(self) -> float:
        return self.timeout.total_seconds()
