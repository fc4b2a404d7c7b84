"""ca.json's ``validation`` object: exact key names, key-by-key override, clear errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acmeca.validation.dispatch import ValidationSettings


def test_defaults_match_the_documentation() -> None:
    settings = ValidationSettings.from_config({})
    assert settings == ValidationSettings(
        resolver=None,
        http01_port=80,
        tls_alpn01_port=443,
        timeout=timedelta(seconds=10),
        deny_private_addresses=False,
        caa_recheck_after=timedelta(hours=7),
    )


def test_none_means_absent() -> None:
    assert ValidationSettings.from_config(None, None) == ValidationSettings()


def test_every_key_is_read() -> None:
    settings = ValidationSettings.from_config(
        {
            "resolver": "127.0.0.1:8053",
            "http01Port": 5002,
            "tlsAlpn01Port": 5001,
            "timeout": "3s",
            "denyPrivateAddresses": True,
            "caaRecheckAfter": "1h",
        }
    )
    assert settings.resolver == "127.0.0.1:8053"
    assert (settings.http01_port, settings.tls_alpn01_port) == (5002, 5001)
    assert settings.timeout == timedelta(seconds=3)
    assert settings.deny_private_addresses is True
    assert settings.caa_recheck_after == timedelta(hours=1)


def test_provisioner_override_merges_key_by_key() -> None:
    top = {"resolver": "127.0.0.1:8053", "http01Port": 5002, "timeout": "5s"}
    settings = ValidationSettings.from_config(top, {"http01Port": 6002})
    assert settings.http01_port == 6002
    assert settings.resolver == "127.0.0.1:8053"
    assert settings.timeout == timedelta(seconds=5)


def test_override_alone_applies_over_defaults() -> None:
    settings = ValidationSettings.from_config({}, {"denyPrivateAddresses": True})
    assert settings.deny_private_addresses is True
    assert settings.http01_port == 80


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"http01Port": 0}, "http01Port"),
        ({"http01Port": 70000}, "http01Port"),
        ({"http01Port": "80"}, "http01Port"),
        ({"tlsAlpn01Port": True}, "tlsAlpn01Port"),
        ({"timeout": "soon"}, "timeout"),
        ({"timeout": "-1s"}, "timeout"),
        ({"timeout": 10}, "timeout"),
        ({"caaRecheckAfter": "7 hours"}, "caaRecheckAfter"),
        ({"denyPrivateAddresses": "yes"}, "denyPrivateAddresses"),
        ({"resolver": "dns.example:53"}, "dns.example"),
        ({"resolver": "127.0.0.1:0"}, "127.0.0.1:0"),
        ({"http01port": 80}, "http01port"),
    ],
)
def test_bad_values_raise_value_error_naming_the_key(document: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        ValidationSettings.from_config(document)


def test_bad_override_is_reported_too() -> None:
    with pytest.raises(ValueError, match="tlsAlpn01Port"):
        ValidationSettings.from_config({}, {"tlsAlpn01Port": -1})


def test_non_object_is_refused() -> None:
    with pytest.raises(ValueError, match="object"):
        ValidationSettings.from_config(["resolver"])  # type: ignore[arg-type]


@pytest.mark.parametrize("resolver", ["127.0.0.1", "127.0.0.1:8053", "[::1]:53", "::1", ""])
def test_resolver_forms_accepted(resolver: str) -> None:
    settings = ValidationSettings.from_config({"resolver": resolver})
    assert settings.resolver == (resolver or None)
