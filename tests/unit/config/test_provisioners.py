"""Provisioners, typed by one parser for ca.json, the admin API and stored rows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from acmeca.admin.service.provisioner_admin import validate_document
from acmeca.config import (
    ACMEProvisionerConfig,
    ConfigError,
    JWKProvisionerConfig,
    Limit,
    OIDCProvisionerConfig,
    load_config,
    parse_provisioner,
)
from acmeca.config.acme import DEFAULT_PROFILE
from acmeca.domain.claims import Claims
from acmeca.domain.errors import Malformed
from acmeca.domain.key_usage import ExtendedKeyUsage
from acmeca.domain.status import ChallengeType, ProvisionerType
from tests.unit.config.conftest import MINIMAL, with_provisioner, write

CLAIMS = Claims(min_duration=timedelta(hours=1), max_duration=timedelta(hours=48),
                default_duration=timedelta(hours=24))


def _acme(**fields: Any) -> dict[str, Any]:
    return {"type": "ACME", "name": "fleet", **fields}


def _parse(document: dict[str, Any], claims: Claims = CLAIMS) -> Any:
    return parse_provisioner(document, authority_claims=claims, where="p")


def test_default_profile_is_always_offered() -> None:
    acme = _parse(_acme())
    assert [p.name for p in acme.profiles] == [DEFAULT_PROFILE]
    assert acme.profiles[0].validity is None  # the claims' default applies


def test_profile_fields_are_typed() -> None:
    acme = _parse(_acme(profiles={"shortlived": {"description": "d", "validity": "6h", "extKeyUsage": ["serverAuth"],
                                                 "omitCommonName": True}}))
    short = acme.profiles[1]
    assert (short.name, short.description, short.validity) == ("shortlived", "d", timedelta(hours=6))
    assert short.ext_key_usage == (ExtendedKeyUsage.SERVER_AUTH,)
    assert short.omit_common_name is True


@pytest.mark.parametrize(
    ("fields", "where", "reason"),
    [
        ({"profiles": {"long": {"validity": "72h"}}}, "p.profiles.long.validity", "outside the provisioner's claims"),
        ({"profiles": {"tiny": {"validity": "5m"}}}, "p.profiles.tiny.validity", "outside the provisioner's claims"),
        ({"profiles": {"x": {"validity": "soon"}}}, "p.profiles.x.validity", "duration"),
        ({"profiles": {"x": {"extKeyUsage": ["serverAuth", "bogus"]}}}, "p.profiles.x.extKeyUsage", "non-empty"),
        ({"profiles": {"x": {"extKeyUsage": []}}}, "p.profiles.x.extKeyUsage", "non-empty"),
        ({"profiles": {"x": {"omitCommonName": "yes"}}}, "p.profiles.x.omitCommonName", "true or false"),
        ({"profiles": {"x": {"validty": "6h"}}}, "p.profiles.x.validty", "did you mean validity?"),
        ({"profiles": {"x": "6h"}}, "p.profiles.x", "must be an object"),
        ({"profiles": {"has space": {}}}, "p.profiles.has space", "profile name"),
        ({"profiles": ["shortlived"]}, "p.profiles", "must be an object"),
        ({"renewalInfo": {"windowStart": 0.9, "windowEnd": 0.5}}, "p.renewalInfo", "windowStart < windowEnd"),
        ({"renewalInfo": {"retryAfter": "often"}}, "p.renewalInfo.retryAfter", "duration"),
        ({"renewalInfo": {"retryAfter": "-1h"}}, "p.renewalInfo.retryAfter", "must be positive"),
        ({"renewalInfo": {"windowStart": "half"}}, "p.renewalInfo.windowStart", "number"),
        ({"renewalInfo": "soon"}, "p.renewalInfo", "must be an object"),
        ({"rateLimits": {"newOrdersPerAccount": "many"}}, "p.rateLimits.newOrdersPerAccount", "count/period"),
        ({"rateLimits": {"newOrdersPerAccount": "0/1h"}}, "p.rateLimits.newOrdersPerAccount", "positive"),
        ({"rateLimits": {"newOrdersPerAccount": "5/soon"}}, "p.rateLimits.newOrdersPerAccount", "invalid period"),
        ({"rateLimits": {"ordersPerDay": "1/1d"}}, "p.rateLimits.ordersPerDay", "unknown key"),
        ({"challenges": ["http-01", "carrier-pigeon"]}, "p.challenges", "challenge types"),
        ({"ordersPerPage": 0}, "p.ordersPerPage", "whole number"),
        ({"requireEab": True}, "p.requireEab", "did you mean requireEAB?"),
        ({"claims": {"defaultTLSCertDuration": "72h"}}, "p.claims", "minTLSCertDuration <= defaultTLSCertDuration"),
    ],
)
def test_bad_acme_provisioners_are_refused_by_path(fields: dict[str, Any], where: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(_acme(**fields))
    assert (caught.value.where, reason in caught.value.reason) == (where, True)
    with pytest.raises(Malformed, match=reason):  # the admin API refuses the same document, at write time
        validate_document(_acme(**fields), CLAIMS)


def test_a_good_acme_document_is_fully_typed() -> None:
    acme = _parse(_acme(
        claims={"maxTLSCertDuration": "720h", "defaultTLSCertDuration": "24h"},
        profiles={"month": {"validity": "720h"}}, challenges=["dns-01", "HTTP-01"], requireEAB=True,
        renewalInfo={"windowStart": 0.5, "windowEnd": 0.75, "retryAfter": "1h"},
        rateLimits={"newOrdersPerAccount": "300/3h"}, caaIdentities=["ca.test"], ordersPerPage=5,
    ), Claims())
    assert isinstance(acme, ACMEProvisionerConfig)
    assert acme.claims.max_duration == timedelta(hours=720)
    assert acme.challenges == (ChallengeType.HTTP_01, ChallengeType.DNS_01)
    assert acme.require_eab
    assert (acme.orders_per_page, acme.caa_identities) == (5, ("ca.test",))
    assert (acme.renewal_info.window_start, acme.renewal_info.retry_after) == (0.5, timedelta(hours=1))
    assert acme.rate_limits.new_orders_per_account == Limit("newOrdersPerAccount", 300, timedelta(hours=3))
    assert acme.rate_limits.new_accounts_per_ip is None
    validate_document(dict(acme.document), Claims())


def test_jwk_and_oidc_are_typed() -> None:
    jwk = _parse({"type": "jwk", "name": "admin", "key": {"kty": "EC", "kid": "k1"}, "encryptedKey": "e"})
    assert isinstance(jwk, JWKProvisionerConfig)
    assert (jwk.type, jwk.kid, jwk.encrypted_key, jwk.credential_id) == (ProvisionerType.JWK, "k1", "e", "k1")
    oidc = _parse({"type": "OIDC", "name": "g", "clientID": "c", "configurationEndpoint": "https://x/.well-known",
                   "admins": ["Root@Example.com"], "scopes": ["openid"]})
    assert isinstance(oidc, OIDCProvisionerConfig)
    assert (oidc.client_id, oidc.admins) == ("c", ("root@example.com",))


@pytest.mark.parametrize(
    ("document", "where", "reason"),
    [
        ({"type": "JWK", "name": "a"}, "p.key", "public JSON web key"),
        ({"type": "X5C", "name": "a"}, "p.roots", "is required"),
        ({"type": "OIDC", "name": "a", "clientID": "c"}, "p.configurationEndpoint", "is required"),
        ({"type": "K8sSA", "name": "a"}, "p.publicKeys", "is required"),
        ({"type": "Kerberos", "name": "a"}, "p.type", "not a provisioner type step-ca defines"),
        ({"name": "a"}, "p.type", "is required"),
        ({"type": "ACME"}, "p.name", "is required"),
        ({"type": "ACME", "name": 3}, "p.name", "must be a string"),
    ],
)
def test_each_type_names_what_is_missing(document: dict[str, Any], where: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(document)
    assert caught.value.where == where
    assert reason in caught.value.reason


def test_types_step_ca_defines_but_acmeca_does_not_serve_load_inactive(tmp_path: Path) -> None:
    document = {**MINIMAL, "authority": {"provisioners": [
        {"type": "AWS", "name": "aws", "accounts": ["1"], "disableCustomSANs": True},
        {"type": "SSHPOP", "name": "sshpop", "claims": {"enableSSHCA": True}},
        {"type": "ACME", "name": "acme"},
    ]}}
    config = load_config(write(tmp_path, document))
    assert [(p.name, p.active) for p in config.authority.provisioners] == [
        ("aws", False), ("sshpop", False), ("acme", True),
    ]
    assert config.notes.inactive_provisioners == ["aws (AWS)", "sshpop (SSHPOP)"]
    with pytest.raises(Malformed, match="not served"):
        validate_document({"type": "AWS", "name": "aws"}, Claims())


def test_the_issue_example_error(tmp_path: Path) -> None:
    document = {**MINIMAL, "authority": {"provisioners": [
        {"type": "JWK", "name": "admin", "key": {"kty": "EC"}},
        {"type": "ACME", "name": "acme", "validation": {"http01port": 8080}},
    ]}}
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, document))
    assert str(caught.value).endswith(
        "ca.json: authority.provisioners[1].validation.http01port: unknown key (did you mean http01Port?)"
    )


def test_at_most_one_k8ssa(tmp_path: Path) -> None:
    k8s = {"type": "K8sSA", "publicKeys": "x"}
    document = {**MINIMAL, "authority": {"provisioners": [{**k8s, "name": "a"}, {**k8s, "name": "b"}]}}
    with pytest.raises(ConfigError, match=r"authority\.provisioners: at most one K8sSA"):
        load_config(write(tmp_path, document))


def test_with_provisioner_helper_loads(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, with_provisioner())).authority.provisioners[0].name == "acme"
