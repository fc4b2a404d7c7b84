import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from acmeca.config import ConfigError, load_config, parse_address

MINIMAL: dict[str, Any] = {
    "root": "certs/root_ca.crt",
    "crt": "certs/intermediate_ca.crt",
    "key": "secrets/intermediate_ca_key",
    "address": ":8443",
    "db": {"type": "sqlite", "dataSource": "db/acmeca.db"},
}


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "ca.json"
    path.write_text(json.dumps(document))
    return path


def test_minimal_config_gets_step_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL))
    assert config.dns_names == ("localhost", "127.0.0.1", "::1")
    assert config.roots == ((tmp_path / "certs/root_ca.crt").resolve(),)
    assert config.authority.claims.default_duration == timedelta(hours=24)
    assert config.authority.backdate == timedelta(minutes=1)
    assert config.crl.cache_duration == timedelta(hours=24)
    assert not config.crl.enabled
    assert config.tls["minVersion"] == 1.2


def test_claims_and_crl_parse(tmp_path: Path) -> None:
    document = {**MINIMAL, "authority": {"claims": {"minTLSCertDuration": "1m", "maxTLSCertDuration": "2h",
                                                   "defaultTLSCertDuration": "1h"}},
                "crl": {"enabled": True, "cacheDuration": "1h", "renewPeriod": "30m"}}
    config = load_config(_write(tmp_path, document))
    assert config.authority.claims.max_duration == timedelta(hours=2)
    assert config.crl.renew_period == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"address": "8443"}, "must be host:port"),
        ({"address": None}, "address is required"),
        ({"root": None}, "root is required"),
        ({"dnsNames": "localhost"}, "dnsNames must be a list"),
        ({"authority": {"claims": {"minTLSCertDuration": "2h", "defaultTLSCertDuration": "1h"}}},
         "minTLSCertDuration <= defaultTLSCertDuration"),
        ({"authority": {"claims": {"maxTLSCertDuration": "soon"}}}, "invalid duration 'soon'"),
        ({"authority": {"provisioners": [{"name": "a", "type": "JWK"}, {"name": "a", "type": "ACME"}]}},
         "must be unique"),
        ({"crl": {"cacheDuration": "1h", "renewPeriod": "2h"}}, "cacheDuration >= renewPeriod"),
        ({"db": "sqlite"}, "db must be an object"),
    ],
)
def test_bad_configs_name_the_key(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, {**MINIMAL, **change}))


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="JSON object"):
        load_config(_write(tmp_path, []))


@pytest.mark.parametrize(("address", "expected"), [(":443", ("", 443)), ("127.0.0.1:8443", ("127.0.0.1", 8443)),
                                                   ("[::1]:9000", ("::1", 9000))])
def test_addresses(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address) == expected
