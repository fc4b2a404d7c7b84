"""The bodies of /1.0/sign and /1.0/revoke as the service takes them.

Apart from the service so that the CLI, which builds them for --offline and for revoke, does not import the
engine and the store to start (a renew hook or a daemon's tick pays every import on each run).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignRequest:
    csr: str | None
    ott: str | None
    not_before: str = ""
    not_after: str = ""


@dataclass(frozen=True)
class RevokeRequest:
    serial: str | None
    ott: str | None = None
    reason_code: int = 0
    reason: str = ""
    passive: bool = True
