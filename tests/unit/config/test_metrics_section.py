"""ca.json ``metrics``: off by default, an address checked at load, and a restart-only reload."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from acmeca.config import ConfigError, MetricsSettings, load_config
from acmeca.server.reload import _needs_restart, changed_keys
from tests.unit.config.conftest import MINIMAL, write


def test_off_by_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.metrics == MetricsSettings()
    assert not config.metrics.enabled


def test_an_address_turns_it_on(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {**MINIMAL, "metrics": {"address": "127.0.0.1:9100"}}))
    assert config.metrics == MetricsSettings("127.0.0.1:9100")
    assert config.metrics.enabled


@pytest.mark.parametrize(("metrics", "where", "reason"), [
    ({"address": "9100"}, "metrics.address", "must be host:port"),
    ({"address": 9100}, "metrics.address", "must be a string"),
    ({"adress": ":9100"}, "metrics.adress", "did you mean address?"),
])
def test_bad_values_are_refused_by_path(tmp_path: Path, metrics: dict[str, object], where: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, {**MINIMAL, "metrics": metrics}))
    assert caught.value.where == where
    assert reason in caught.value.reason


def test_a_changed_address_needs_a_restart(tmp_path: Path) -> None:
    old = load_config(write(tmp_path, MINIMAL))
    new = dataclasses.replace(old, metrics=MetricsSettings(":9100"))
    assert changed_keys(old, new) == ["metrics"]
    assert _needs_restart("metrics")
