"""The ``"metrics"`` section: where Prometheus scrapes ``GET /metrics`` (off unless an address is given).

The listener is plain HTTP and unauthenticated, separate from the HTTPS API, so it can be bound to a
loopback or private address that only the scraper reaches. It is bound once at start: SIGHUP names a change
as needing a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from acmeca.config.registry import Key, Reader, Reload, section
from acmeca.domain.addresses import parse_listen_address

METRICS = section("metrics", "Prometheus metrics (docs/monitoring.md); off unless `address` is set.", (
    Key("address", "host:port", 'Serve `GET /metrics` over plain HTTP (no TLS, no authentication) on this '
        'address, e.g. "127.0.0.1:9100". With `serve --workers` the supervisor serves it for every worker.',
        Reload.RESTART),
))


@dataclass(frozen=True)
class MetricsSettings:
    address: str = ""  # "" = no metrics listener

    @property
    def enabled(self) -> bool:
        return bool(self.address)


def read_metrics(reader: Reader) -> MetricsSettings:
    address = reader.string("address")
    reader.parsed("address", parse_listen_address, ("", 0))
    return MetricsSettings(address=address)
