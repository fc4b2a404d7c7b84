"""ca.json: defaults, every section typed, and one-line errors that end in the key's full JSON path."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from acmeca.config import ConfigError, load_config
from acmeca.domain.addresses import parse_listen_address
from tests.unit.config.conftest import MINIMAL, write


def _load(tmp_path: Path, document: object) -> Any:
    return load_config(write(tmp_path, document))


def test_minimal_config_gets_step_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path, MINIMAL)
    assert config.dns_names == ("localhost", "127.0.0.1", "::1")
    assert config.roots == ((tmp_path / "certs/root_ca.crt").resolve(),)
    assert config.authority.claims.default_duration == timedelta(hours=24)
    assert config.authority.backdate == timedelta(minutes=1)
    assert config.crl.cache_duration == timedelta(hours=24)
    assert not config.crl.enabled
    assert config.tls.min_version == 1.2
    assert (config.logger.format, config.logger.level) == ("text", "info")
    assert config.db.type == "sqlite"


def test_claims_crl_logger_and_policy_parse(tmp_path: Path) -> None:
    document = {
        **MINIMAL,
        "authority": {
            "claims": {"minTLSCertDuration": "1m", "maxTLSCertDuration": "2h", "defaultTLSCertDuration": "1h"},
            "policy": {"x509": {"allow": {"dns": ["*.internal"], "ips": ["10.0.0.0/8"]}, "allowWildcardNames": True}},
        },
        "crl": {"enabled": True, "cacheDuration": "1h", "renewPeriod": "30m"},
        "logger": {"format": "json", "level": "DEBUG"},
    }
    config = _load(tmp_path, document)
    assert config.authority.claims.max_duration == timedelta(hours=2)
    assert config.crl.renew_period == timedelta(minutes=30)
    assert (config.logger.format, config.logger.level) == ("json", "debug")
    assert config.authority.policy.allow.dns == ("*.internal",)
    assert config.authority.policy.allow.ip == ("10.0.0.0/8",)
    assert config.authority.policy.allow_wildcard_names is True


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        ({"address": "8443"}, "address", "must be host:port"),
        ({"address": None}, "address", "is required"),
        ({"root": None}, "root", "is required"),
        ({"dnsNames": "localhost"}, "dnsNames", "must be a list of strings"),
        ({"authority": {"claims": {"minTLSCertDuration": "2h", "defaultTLSCertDuration": "1h"}}},
         "authority.claims", "minTLSCertDuration <= defaultTLSCertDuration"),
        ({"authority": {"claims": {"maxTLSCertDuration": "soon"}}}, "authority.claims.maxTLSCertDuration",
         "must be a duration"),
        ({"authority": {"provisioners": [{"name": "a", "type": "JWK", "key": {"kty": "EC"}},
                                         {"name": "a", "type": "ACME"}]}},
         "authority.provisioners[1].name", "used twice"),
        ({"crl": {"cacheDuration": "1h", "renewPeriod": "2h"}}, "crl.renewPeriod", "between 0 and cacheDuration"),
        ({"db": "sqlite"}, "db", "must be an object"),
        ({"db": {"type": "oracle", "dataSource": "x"}}, "db.type", "not supported"),
        ({"db": {"type": "postgresql", "dataSource": "host=x"}}, "db.dataSource", "postgresql:// URL"),
        ({"logger": {"format": "common"}}, "logger.format", 'must be "text" or "json"'),
        ({"logger": {"level": "loud"}}, "logger.level", "must be one of"),
        ({"validation": {"http01port": 8080}}, "validation.http01port", "unknown key (did you mean http01Port?)"),
        ({"validation": {"resolver": "dns.google"}}, "validation.resolver", "not a name"),
        ({"validation": {"http01Port": 70000}}, "validation.http01Port", "from 1 to 65535"),
        ({"validation": {"timeout": "10 seconds"}}, "validation.timeout", "must be a duration"),
        ({"authority": {"backdate": "-1m"}}, "authority.backdate", "must not be negative"),
        ({"authority": {"enableAdmin": "yes"}}, "authority.enableAdmin", "true or false"),
        ({"authority": {"policy": {"x509": {"allow": {"dnsNames": ["a"]}}}}}, "authority.policy.x509.allow.dnsNames",
         "unknown key"),
        ({"crt": ""}, "crt", "non-empty path"),
        ({"adress": ":443"}, "adress", "unknown key (did you mean address?)"),
        ({"alternateChains": "x"}, "alternateChains", "must be a list"),
    ],
)
def test_bad_configs_name_the_full_path(tmp_path: Path, change: dict[str, Any], where: str, reason: str) -> None:
    path = write(tmp_path, {**MINIMAL, **change})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.where == where
    assert reason in caught.value.reason
    assert str(caught.value) == f"{path}: {where}: {caught.value.reason}"
    assert "\n" not in str(caught.value)


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="JSON object"):
        _load(tmp_path, [])


def test_step_ca_keys_acmeca_does_not_use_are_listed_not_refused(tmp_path: Path) -> None:
    document = {
        **MINIMAL, "kms": {"type": "softkms"}, "ssh": {"hostKey": "x"}, "insecureAddress": "",
        "db": {"type": "sqlite", "dataSource": "db/x.db", "badgerFileLoadingMode": "FileIO"},
        "authority": {"deploymentType": "standalone", "claims": {"enableSSHCA": True}},
    }
    config = _load(tmp_path, document)
    assert sorted(config.notes.ignored_keys) == [
        "authority.claims.enableSSHCA", "authority.deploymentType", "db.badgerFileLoadingMode", "kms", "ssh",
    ]


def test_policy_rules_are_checked_when_the_policy_is_built(tmp_path: Path) -> None:
    from acmeca.engine.name_policy import authority_policy

    config = _load(tmp_path, {**MINIMAL, "authority": {"policy": {"x509": {"deny": {"ip": ["10.0.0.0/33"]}}}}})
    with pytest.raises(ConfigError, match=r"^authority\.policy: "):
        authority_policy(config.authority.policy)


@pytest.mark.parametrize(("address", "expected"), [(":443", ("", 443)), ("127.0.0.1:8443", ("127.0.0.1", 8443)),
                                                   ("[::1]:9000", ("::1", 9000))])
def test_addresses(address: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(address) == expected


def test_a_ca_json_written_by_step_ca_0_19_loads(tmp_path: Path) -> None:
    """The file `step ca init` (0.19) writes, plus `step ca provisioner add acme --type ACME`, as it is."""
    document = json.loads((Path(__file__).resolve().parents[2] / "testdata" / "step-ca-0.19-ca.json").read_text())
    (tmp_path / "config").mkdir()
    config = load_config(write(tmp_path / "config", document))
    assert [(p.name, p.type.value) for p in config.authority.provisioners] == [("admin", "JWK"), ("acme", "ACME")]
    assert config.db.type == "badgerv2"
    assert config.common_name == "Step Online CA"
    assert config.notes.ignored_keys == []  # its step-only keys (template, insecureAddress) are empty


def test_serve_refuses_step_cas_own_database_with_the_way_forward() -> None:
    from acmeca.config import DatabaseConfig
    from acmeca.server.database import StartupError, settings_of

    with pytest.raises(StartupError, match="--from-step-ca"):
        settings_of(DatabaseConfig("badgerv2", "/var/lib/step/db"))
