"""ca.json ``server``: safe defaults, typed values, refusals by path, and a restart-only reload."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from acmeca.config import ConfigError, ServerSettings, load_config
from acmeca.server.reload import _needs_restart, changed_keys
from tests.unit.config.conftest import MINIMAL, write


def test_defaults() -> None:
    assert ServerSettings() == ServerSettings(timedelta(seconds=60), timedelta(seconds=30), 1024)


def test_values_are_typed(tmp_path: Path) -> None:
    document = {**MINIMAL, "server": {"idleTimeout": "2m", "requestTimeout": "5s", "maxConnections": 10}}
    config = load_config(write(tmp_path, document))
    assert config.server == ServerSettings(timedelta(minutes=2), timedelta(seconds=5), 10, max_connections_set=True)
    assert load_config(write(tmp_path, MINIMAL)).server == ServerSettings()


@pytest.mark.parametrize(("server", "where", "reason"), [
    ({"idleTimeout": "500ms"}, "server.idleTimeout", "must be at least 1s"),
    ({"requestTimeout": "0s"}, "server.requestTimeout", "must be at least 1s"),
    ({"maxConnections": 0}, "server.maxConnections", "from 1 to 1000000"),
    ({"maxConnections": "many"}, "server.maxConnections", "whole number"),
    ({"idletimeout": "1m"}, "server.idletimeout", "did you mean idleTimeout?"),
])
def test_bad_values_are_refused_by_path(tmp_path: Path, server: dict[str, Any], where: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, {**MINIMAL, "server": server}))
    assert caught.value.where == where
    assert reason in caught.value.reason


def test_a_changed_server_section_is_named_as_needing_a_restart(tmp_path: Path) -> None:
    old = load_config(write(tmp_path, MINIMAL))
    new = dataclasses.replace(old, server=ServerSettings(max_connections=10))
    assert changed_keys(old, new) == ["server"]
    assert _needs_restart("server")
