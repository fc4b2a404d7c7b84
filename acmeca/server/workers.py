"""How many processes ``acmeca serve --workers`` runs: the flag's value checked, and ``auto`` resolved.

``auto`` counts the CPUs this process may really use: its affinity mask, capped by a cgroup v2 CPU quota
(a container limited to 1.5 CPUs gets 2 workers, not the host's 64). On SQLite ``auto`` is at most two
processes: SQLite admits one writer per file, and a writer waits for another process's lock on its event
loop in short polls (``acmeca.store.database``); two processes served about a quarter more ACME orders per
second than one on our 2-core machine (``make bench``, docs/performance.md), and more were not measured.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

MAX_WORKERS = 64
SQLITE_AUTO_WORKERS = 2  # one file, one writer at a time: what was measured to help (see the module docstring)
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


class WorkersError(ValueError):
    """The value of --workers cannot be used; the message is the one line the CLI prints."""


def parse_workers(text: str) -> int | None:
    """A number in 1..64, or None for ``auto``."""
    if text == "auto":
        return None
    try:
        count = int(text)
    except ValueError:
        raise WorkersError(f"--workers must be a number from 1 to {MAX_WORKERS} or 'auto', not {text!r}") from None
    if not 1 <= count <= MAX_WORKERS:
        raise WorkersError(f"--workers must be from 1 to {MAX_WORKERS}, not {count}")
    return count


def resolve_workers(requested: int | None, dialect: str, *, cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The number of processes to run for a ``--workers`` value (None: auto) on a database dialect."""
    if requested is not None:
        return requested
    if dialect == "sqlite":
        return min(SQLITE_AUTO_WORKERS, usable_cpus(cpu_max))
    return min(MAX_WORKERS, usable_cpus(cpu_max))


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cpu_max)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def cgroup_cpu_quota(cpu_max: Path = CGROUP_CPU_MAX) -> float | None:
    """CPUs granted by cgroup v2's ``cpu.max`` ("200000 100000" is 2.0), None when unlimited or unknown."""
    try:
        fields = cpu_max.read_text().split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    return quota / period if period > 0 else None
