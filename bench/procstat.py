"""CPU and memory of a whole process tree, read from ``/proc`` (Linux only).

A server's cost is the sum over its process tree: the process the bench started and every descendant alive
when we look (acmeca's workers, PostgreSQL's backends). Each process contributes utime+stime, plus
cutime+cstime: the time of children it has already reaped, so a backend that exits inside the timed window
is not lost. Parsing is kept apart from reading so the tests can feed it text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    ticks: int  # utime + stime + cutime + cstime, in clock ticks


def parse_stat(text: str) -> ProcStat:
    """One ``/proc/<pid>/stat`` line; the command name may hold spaces and parentheses, so split at the last ')'."""
    head, _, rest = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = rest.split()  # fields[0] is field 3 (state) of proc(5)
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return ProcStat(pid, int(fields[1]), utime + stime + cutime + cstime)


def parse_vmrss_kib(status_text: str) -> int | None:
    """VmRSS from ``/proc/<pid>/status`` in KiB; None for a process without one (a zombie, a kernel thread)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def tree(root: int, stats: dict[int, ProcStat]) -> list[int]:
    """``root`` and all its descendants among ``stats``, root first, each once."""
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found, pending = [], [root] if root in stats else []
    while pending:
        pid = pending.pop(0)
        if pid not in found:
            found.append(pid)
            pending.extend(sorted(children.get(pid, [])))
    return found


def tree_ticks(root: int, stats: dict[int, ProcStat]) -> int:
    return sum(stats[pid].ticks for pid in tree(root, stats))


def read_stats() -> dict[int, ProcStat]:
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = parse_stat((entry / "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue  # exited while we looked
    return stats


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds used so far by ``root``'s whole tree (0.0 once it is gone)."""
    return tree_ticks(root, read_stats()) / os.sysconf("SC_CLK_TCK")


def tree_rss_kib(root: int) -> dict[int, int]:
    """VmRSS per live process of ``root``'s tree, pid -> KiB."""
    rss = {}
    for pid in tree(root, read_stats()):
        try:
            value = parse_vmrss_kib((PROC / str(pid) / "status").read_text())
        except OSError:
            continue
        if value is not None:
            rss[pid] = value
    return rss
