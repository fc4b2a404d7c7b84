"""--workers: the values accepted, and what ``auto`` resolves to."""

from __future__ import annotations

from pathlib import Path

import pytest

from acmeca.server.workers import WorkersError, cgroup_cpu_quota, parse_workers, resolve_workers, usable_cpus


@pytest.mark.parametrize(("text", "expected"), [("auto", None), ("1", 1), ("64", 64)])
def test_accepted_values(text: str, expected: int | None) -> None:
    assert parse_workers(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "65", "two", "", "1.5"])
def test_refused_values(text: str) -> None:
    with pytest.raises(WorkersError, match="--workers must be"):
        parse_workers(text)


def test_auto_is_at_most_two_processes_on_sqlite(tmp_path: Path) -> None:
    assert resolve_workers(None, "sqlite", cpu_max=tmp_path / "absent") == min(2, usable_cpus(tmp_path / "absent"))
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("50000 100000\n")
    assert resolve_workers(None, "sqlite", cpu_max=cpu_max) == 1  # half a CPU: one process
    assert resolve_workers(3, "sqlite", cpu_max=tmp_path / "absent") == 3


def test_auto_on_postgresql_is_capped_by_the_cgroup_quota(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert cgroup_cpu_quota(cpu_max) == 1.5
    assert resolve_workers(None, "postgresql", cpu_max=cpu_max) == min(2, usable_cpus(tmp_path / "absent"))
    cpu_max.write_text("50000 100000\n")
    assert resolve_workers(None, "postgresql", cpu_max=cpu_max) == 1


@pytest.mark.parametrize("content", ["max 100000", "garbage", "1 0", ""])
def test_an_unlimited_or_unreadable_quota_is_no_cap(tmp_path: Path, content: str) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(content)
    assert cgroup_cpu_quota(cpu_max) is None
