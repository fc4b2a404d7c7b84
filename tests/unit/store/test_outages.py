"""Which failures are database outages, and the one-line-per-transition log of :class:`Availability`."""

from __future__ import annotations

import logging
import sqlite3

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from acmeca.domain.errors import ServiceUnavailable
from acmeca.store.outages import Availability, is_outage, root_cause
from tests.support.metric_values import sample


def _sqlite_error(code: int, message: str) -> sqlite3.Error:
    """A real sqlite3 error carrying ``code``, as sqlite3 raises it."""
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


def _wrapped(driver: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """SQLAlchemy's wrapping, with asyncpg's error as the adapter does it (the cause of ``orig``)."""
    adapted = Exception(str(driver))
    adapted.__cause__ = driver
    return sa_exc.DBAPIError.instance("SELECT 1", {}, adapted, Exception, connection_invalidated=invalidated)


OUTAGES = [
    pytest.param(_sqlite_error(5, "database is locked"), False, id="sqlite-busy"),
    pytest.param(_sqlite_error(13, "database or disk is full"), False, id="sqlite-full"),
    pytest.param(_sqlite_error(14, "unable to open database file"), False, id="sqlite-cantopen"),
    pytest.param(_sqlite_error(10 | (13 << 8), "disk I/O error"), False, id="sqlite-ioerr-extended"),
    pytest.param(_sqlite_error(8, "attempt to write a readonly database"), False, id="sqlite-readonly"),
    pytest.param(sa_exc.OperationalError("BEGIN", {}, _sqlite_error(5, "database is locked")), False,
                 id="sqlite-wrapped"),
    pytest.param(sa_exc.TimeoutError("QueuePool limit of size 1 overflow 1 reached"), False, id="pool-timeout"),
    pytest.param(ConnectionRefusedError(111, "Connect call failed"), True, id="refused-on-connect"),
    pytest.param(TimeoutError(), True, id="connect-timeout"),
    pytest.param(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True,
                 id="pg-starting-up"),
    pytest.param(asyncpg.exceptions.TooManyConnectionsError("too many clients"), True, id="pg-too-many"),
    pytest.param(_wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")), False,
                 id="pg-admin-shutdown"),
    pytest.param(_wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")), False,
                 id="pg-closed-mid-statement"),
    pytest.param(_wrapped(asyncpg.exceptions.ReadOnlySQLTransactionError("read-only")), False,
                 id="pg-standby-after-failover"),
    pytest.param(_wrapped(RuntimeError("gone"), invalidated=True), False, id="invalidated-connection"),
]
NOT_OUTAGES = [
    pytest.param(_sqlite_error(1, "no such table: certificates"), False, id="sqlite-bad-statement"),
    pytest.param(sa_exc.IntegrityError("INSERT", {}, _sqlite_error(19, "UNIQUE constraint failed")), False,
                 id="sqlite-constraint"),
    pytest.param(_wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")), False, id="pg-constraint"),
    pytest.param(_wrapped(asyncpg.exceptions.UndefinedTableError("no such relation")), False, id="pg-bad-statement"),
    pytest.param(FileNotFoundError(2, "no such file"), False, id="oserror-in-the-body"),
    pytest.param(TimeoutError(), False, id="timeout-in-the-body"),
    pytest.param(ServiceUnavailable("rate limit bucket is too contended"), False, id="not-a-database-failure"),
]


@pytest.mark.parametrize(("error", "connecting"), OUTAGES)
def test_outages(error: BaseException, connecting: bool) -> None:
    assert is_outage(error, connecting=connecting)


@pytest.mark.parametrize(("error", "connecting"), NOT_OUTAGES)
def test_failures_that_are_not_outages(error: BaseException, connecting: bool) -> None:
    assert not is_outage(error, connecting=connecting)


def test_root_cause_is_the_drivers_error_under_sqlalchemys_wrapping() -> None:
    driver = asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")
    assert root_cause(_wrapped(driver)) is driver


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _transitions(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "acmeca.store.outages"]


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="acmeca.store.outages")
    ticks = Ticks()
    state = Availability(ticks)
    assert sample("acmeca_database_up") == 1
    errors = sample("acmeca_database_errors_total")
    refused = ConnectionRefusedError(111, "Connect call failed")
    for _ in range(5):
        ticks.now += 0.1
        error = state.failed(refused, state.attempt())
        assert isinstance(error, ServiceUnavailable)
        assert error.retry_after.total_seconds() >= 1
    assert not state.available
    assert (sample("acmeca_database_up"), sample("acmeca_database_errors_total")) == (0, errors + 5)
    record = next(r for r in caplog.records if r.getMessage() == "database unavailable")
    assert record.error == "ConnectionRefusedError"  # type: ignore[attr-defined]

    ticks.now += 1
    state.probed(state.attempt())  # requests failed since the last probe: the outage goes on
    assert not state.available
    ticks.now += 1
    state.probed(state.attempt())
    assert state.available
    assert sample("acmeca_database_up") == 1
    assert _transitions(caplog) == ["database unavailable", "database available again"]


def test_a_request_that_began_before_the_recovery_does_not_reopen_the_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="acmeca.store.outages")
    ticks = Ticks()
    state = Availability(ticks)
    state.probe_failed(ConnectionRefusedError(111, "refused"), state.attempt())
    straggler = state.attempt()
    ticks.now += 1
    state.probed(state.attempt())  # the probe's own failure does not hold the outage open
    assert state.available
    ticks.now += 0.1
    state.failed(ConnectionRefusedError(111, "refused"), straggler)
    assert state.available
    state.failed(ConnectionRefusedError(111, "refused"), state.attempt())  # a new failure is a new outage
    assert not state.available
    assert _transitions(caplog) == ["database unavailable", "database available again", "database unavailable"]


def test_a_probe_that_began_before_the_outage_does_not_end_it() -> None:
    ticks = Ticks()
    state = Availability(ticks)
    slow_probe = state.attempt()
    ticks.now += 0.5
    state.failed(ConnectionRefusedError(111, "refused"), state.attempt())
    ticks.now += 0.5
    state.probed(slow_probe)
    state.probed(slow_probe)
    assert not state.available
