"""ca.json's db section: the PostgreSQL pool settings reach the engine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acmeca.config import ConfigError, parse_database
from acmeca.store.database import Database, database_settings

DSN = "postgresql://acmeca@db.example:5432/acmeca"


def test_pool_size_and_timeout_reach_the_engine() -> None:
    db = parse_database({"type": "postgresql", "dataSource": DSN, "poolSize": 4, "poolTimeout": "3s"})
    assert (db.pool_size, db.pool_timeout) == (4, timedelta(seconds=3))
    database = Database.connect(database_settings(db))
    pool = database.engine.sync_engine.pool
    # 2 × poolSize connections, none of them overflow: each is kept once opened (no backend per burst)
    assert (pool.size(), pool._max_overflow, pool._timeout) == (8, 0, 3.0)  # type: ignore[attr-defined]


def test_the_defaults() -> None:
    db = parse_database({"type": "postgresql", "dataSource": DSN})
    assert (db.pool_size, db.pool_timeout) == (10, timedelta(seconds=30))


@pytest.mark.parametrize("value", [0, -1, 1001, "10", 2.5, True])
def test_a_bad_pool_size_is_refused_by_path(value: object) -> None:
    with pytest.raises(ConfigError, match="poolSize: must be a whole number from 1 to 1000"):
        parse_database({"type": "postgresql", "dataSource": DSN, "poolSize": value})
