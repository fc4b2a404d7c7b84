"""ca.json's ``validation`` object: exact key names, key-by-key override per provisioner, clear errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from acmeca.config import ACMEProvisionerConfig, ConfigError, ValidationSettings, load_config
from tests.unit.config.conftest import MINIMAL, with_provisioner, write


def test_defaults_match_the_documentation(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).validation == ValidationSettings(
        resolver=None, http01_port=80, tls_alpn01_port=443, timeout=timedelta(seconds=10),
        deny_private_addresses=False, caa_recheck_after=timedelta(hours=7), settle_within=timedelta(seconds=2),
    )


def test_every_key_is_read(tmp_path: Path) -> None:
    validation = {"resolver": "127.0.0.1:8053", "http01Port": 5002, "tlsAlpn01Port": 5001, "timeout": "3s",
                  "denyPrivateAddresses": True, "caaRecheckAfter": "1h", "settleWithin": "250ms"}
    settings = load_config(write(tmp_path, {**MINIMAL, "validation": validation})).validation
    assert settings == ValidationSettings(
        "127.0.0.1:8053", 5002, 5001, timedelta(seconds=3), True, timedelta(hours=1), timedelta(milliseconds=250)
    )


def test_settle_within_zero_is_allowed_and_overridable(tmp_path: Path) -> None:
    document = {**with_provisioner(validation={"settleWithin": "0s"}), "validation": {"settleWithin": "5s"}}
    config = load_config(write(tmp_path, document))
    [acme] = config.authority.provisioners
    assert isinstance(acme, ACMEProvisionerConfig)
    assert config.validation.settle_within == timedelta(seconds=5)
    assert acme.validation.over(config.validation).settle_within == timedelta(0)


def test_provisioner_override_merges_key_by_key(tmp_path: Path) -> None:
    document = {**with_provisioner(validation={"http01Port": 6002}),
                "validation": {"resolver": "127.0.0.1:8053", "http01Port": 5002, "timeout": "5s"}}
    config = load_config(write(tmp_path, document))
    [acme] = config.authority.provisioners
    assert isinstance(acme, ACMEProvisionerConfig)
    settings = acme.validation.over(config.validation)
    assert (settings.http01_port, settings.resolver, settings.timeout) == (6002, "127.0.0.1:8053", timedelta(seconds=5))
    assert acme.validation.over(ValidationSettings()).http01_port == 6002


@pytest.mark.parametrize(
    ("validation", "key", "reason"),
    [
        ({"http01Port": 0}, "http01Port", "port number"),
        ({"http01Port": "80"}, "http01Port", "port number"),
        ({"tlsAlpn01Port": True}, "tlsAlpn01Port", "port number"),
        ({"timeout": "soon"}, "timeout", "duration"),
        ({"timeout": "-1s"}, "timeout", "must be positive"),
        ({"timeout": 10}, "timeout", "duration"),
        ({"caaRecheckAfter": "7 hours"}, "caaRecheckAfter", "duration"),
        ({"settleWithin": "-1s"}, "settleWithin", "must not be negative"),
        ({"settleWithin": 2}, "settleWithin", "duration"),
        ({"denyPrivateAddresses": "yes"}, "denyPrivateAddresses", "true or false"),
        ({"resolver": "dns.example:53"}, "resolver", "dns.example"),
        ({"resolver": "127.0.0.1:0"}, "resolver", "invalid port"),
        ({"http01port": 80}, "http01port", "did you mean http01Port?"),
    ],
)
def test_bad_values_name_the_key_top_level_and_per_provisioner(
    tmp_path: Path, validation: dict[str, Any], key: str, reason: str
) -> None:
    for document, where in (({**MINIMAL, "validation": validation}, f"validation.{key}"),
                            (with_provisioner(validation=validation), f"authority.provisioners[0].validation.{key}")):
        with pytest.raises(ConfigError) as caught:
            load_config(write(tmp_path, document))
        assert caught.value.where == where
        assert reason in caught.value.reason


@pytest.mark.parametrize("resolver", ["127.0.0.1", "127.0.0.1:8053", "[::1]:53", "::1", ""])
def test_resolver_forms_accepted(tmp_path: Path, resolver: str) -> None:
    settings = load_config(write(tmp_path, {**MINIMAL, "validation": {"resolver": resolver}})).validation
    assert settings.resolver == (resolver or None)
