"""The lock on ``<database>.lock``: servers share it, a restore takes it alone, and neither starts under the other."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from acmeca.config import CAConfig, parse_database
from acmeca.server.database import StartupError, open_database
from acmeca.store.file_lock import DatabaseInUse, hold_exclusive, hold_shared, lock_path


def test_servers_share_the_lock_and_a_restore_waits_for_all_of_them(tmp_path: Path) -> None:
    database = tmp_path / "acmeca.db"
    first, second = hold_shared(database), hold_shared(database)
    assert lock_path(database) == tmp_path / "acmeca.db.lock"
    with pytest.raises(DatabaseInUse):
        hold_exclusive(database)
    first.release()
    with pytest.raises(DatabaseInUse):
        hold_exclusive(database)
    second.release()
    restore = hold_exclusive(database)
    with pytest.raises(DatabaseInUse):
        hold_shared(database)
    restore.release()
    hold_shared(database).release()


async def test_a_server_does_not_start_during_a_restore_and_holds_the_lock_while_open(tmp_path: Path) -> None:
    path = tmp_path / "acmeca.db"
    config = _config(path)
    restore = hold_exclusive(path)
    with pytest.raises(StartupError, match="a restore of the database is under way"):
        await open_database(config, migrate=None)
    restore.release()
    database = await open_database(config, migrate=None)
    with pytest.raises(DatabaseInUse):
        hold_exclusive(path)
    await database.close()
    hold_exclusive(path).release()


def _config(path: Path) -> CAConfig:
    """open_database reads only ``db``."""
    return cast(CAConfig, SimpleNamespace(db=parse_database({"type": "sqlite", "dataSource": str(path)})))
