"""Fixtures shared by every test directory live in tests/support and are registered here."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.support.databases", "tests.support.ca_server"]


# Test folders whose files each take tens of seconds (real clients, a wheel build, chaos, a thousand requests):
# run first, so that xdist's --dist loadfile, which hands out whole files in collection order, does not leave
# one of them to a single worker at the end of the run while the other sits idle.
_SLOW_FIRST = ("tests/interop/", "tests/deploy/", "tests/integration/chaos/", "tests/integration/hostile/")


def _slow_first(item: pytest.Item) -> int:
    path = item.nodeid
    return next((rank for rank, prefix in enumerate(_SLOW_FIRST) if path.startswith(prefix)), len(_SLOW_FIRST))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow folders first (a stable sort: each file keeps its own order); and in CI
    (ACMECA_REQUIRE_POSTGRES=1) the PostgreSQL half must run: find or start a server now, or fail."""
    items.sort(key=_slow_first)
    if not os.environ.get("ACMECA_REQUIRE_POSTGRES"):
        return
    if not any(item.get_closest_marker("postgres") for item in items):
        if items and not config.getoption("-k") and not config.getoption("-m"):
            raise pytest.UsageError("ACMECA_REQUIRE_POSTGRES is set but no PostgreSQL test was collected")
        return
    from tests.support.postgres import postgres_server

    try:
        postgres_server()
    except Exception as exc:
        raise pytest.UsageError(f"PostgreSQL tests cannot run: {exc}") from exc


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if os.environ.get("ACMECA_REQUIRE_POSTGRES") and report.skipped and "postgresql" in report.nodeid:
        raise pytest.UsageError(f"a PostgreSQL test was skipped in CI: {report.nodeid}")
