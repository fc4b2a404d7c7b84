"""Fixtures shared by every test directory live in tests/support and are registered here."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.support.databases", "tests.support.ca_server"]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """In CI (ACMECA_REQUIRE_POSTGRES=1) the PostgreSQL half must run: find or start a server now, or fail."""
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
