"""The one results table: a row per server, then each acmeca row as a ratio to Pebble's and step-ca's.

A phase whose load client used more than CLIENT_BOUND_CORES of a core measured the client, not the server:
its throughput is printed with a ``*`` and every throughput ratio involving it is printed in parentheses
and does not count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

CLIENT_BOUND_CORES = 0.8


def is_client_bound(client_cpu_seconds: float, wall_seconds: float) -> bool:
    return wall_seconds > 0 and client_cpu_seconds / wall_seconds > CLIENT_BOUND_CORES


def percentile(samples: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None without samples."""
    ordered = sorted(samples)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


@dataclass
class Phase:
    """One timed window: N flows (ACME orders or /1.0/sign calls) and what they cost."""

    done: int
    failures: int
    seconds: float
    requests: int
    latencies: list[float]
    server_cpu: float  # seconds, the server's process tree
    client_cpu: float  # seconds, this process (clients, http-01 responder, test DNS)
    db_cpu: float | None = None  # seconds, the PostgreSQL cluster's process tree
    first_error: str | None = None

    @property
    def rate(self) -> float | None:
        return self.done / self.seconds if self.seconds and self.done else None

    @property
    def client_cores(self) -> float:
        return self.client_cpu / self.seconds if self.seconds else 0.0

    @property
    def client_bound(self) -> bool:
        return is_client_bound(self.client_cpu, self.seconds)

    def per_flow_ms(self, seconds: float | None) -> float | None:
        return seconds * 1000 / self.done if seconds is not None and self.done else None


@dataclass
class Row:
    label: str
    acme: Phase | None = None
    sign: Phase | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Column:
    header: str
    phase: str  # "acme" or "sign"
    value: Callable[[Phase], float | None]
    throughput: bool = False
    ratio: bool = True


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


COLUMNS = [
    Column("orders/s", "acme", lambda p: p.rate, throughput=True),
    Column("p50 ms", "acme", lambda p: _ms(percentile(p.latencies, 0.5))),
    Column("p99 ms", "acme", lambda p: _ms(percentile(p.latencies, 0.99))),
    Column("req/order", "acme", lambda p: p.requests / p.done if p.done else None),
    Column("CPU ms/order", "acme", lambda p: p.per_flow_ms(p.server_cpu)),
    Column("pg ms/order", "acme", lambda p: p.per_flow_ms(p.db_cpu), ratio=False),
    Column("client cores", "acme", lambda p: p.client_cores, ratio=False),
    Column("signs/s", "sign", lambda p: p.rate, throughput=True),
    Column("CPU ms/sign", "sign", lambda p: p.per_flow_ms(p.server_cpu)),
    Column("pg ms/sign", "sign", lambda p: p.per_flow_ms(p.db_cpu), ratio=False),
    Column("client cores", "sign", lambda p: p.client_cores, ratio=False),
]


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _cell(row: Row, column: Column) -> str:
    phase = row.acme if column.phase == "acme" else row.sign
    value = column.value(phase) if phase else None
    if value is None:
        return "-"
    return _number(value) + ("*" if column.throughput and phase and phase.client_bound else "")


def _ratio_cell(row: Row, reference: Row, column: Column) -> str:
    if not column.ratio:
        return ""
    ours, theirs = (r.acme if column.phase == "acme" else r.sign for r in (row, reference))
    if ours is None or theirs is None:
        return "-"
    a, b = column.value(ours), column.value(theirs)
    if a is None or not b:
        return "-"
    text = f"{a / b:.2f}"
    return f"({text})" if column.throughput and (ours.client_bound or theirs.client_bound) else text


def format_table(rows: list[Row], references: tuple[str, ...] = ("pebble", "step-ca")) -> str:
    widths = [max(len(c.header), 8) for c in COLUMNS]
    labels = [row.label for row in rows] + [f"  {r.label} / {n}" for r in rows for n in references]
    width = max(len(label) for label in labels) + 1
    lines = ["".join([f"{'server':<{width}}", *(f"{c.header:>{w + 1}}" for c, w in zip(COLUMNS, widths, strict=True))])]
    by_label = {row.label: row for row in rows}
    for row in rows:
        cells = (_cell(row, c) for c in COLUMNS)
        lines.append(f"{row.label:<{width}}" + "".join(f"{v:>{w + 1}}" for v, w in zip(cells, widths, strict=True)))
    for row in rows:
        if not row.label.startswith("acmeca"):
            continue
        for name in references:
            reference = by_label.get(name)
            if reference is None or (reference.acme is None and reference.sign is None):
                continue
            label = f"  {row.label} / {name}"
            cells = (_ratio_cell(row, reference, c) for c in COLUMNS)
            lines.append(f"{label:<{width}}" + "".join(f"{v:>{w + 1}}" for v, w in zip(cells, widths, strict=True)))
    return "\n".join(lines)
