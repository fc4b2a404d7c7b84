"""ca.json keys of issue 6 (``profiles``, ``renewalInfo``, ``rateLimits``, ``validation.caaRecheckAfter``):
good documents load, bad ones are refused with a message naming the key, before any client sees them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from acmeca.acme.service.profiles import DEFAULT_PROFILE, parse_profiles
from acmeca.acme.service.provisioner import check_acme_document
from acmeca.admin.service.provisioners import validate_document
from acmeca.domain.claims import Claims
from acmeca.domain.errors import Malformed
from acmeca.engine.requests import ExtendedKeyUsage
from acmeca.validation.settings import ValidationSettings

CLAIMS = Claims(min_duration=timedelta(hours=1), max_duration=timedelta(hours=48),
                default_duration=timedelta(hours=24))


def _acme(**fields: Any) -> dict[str, Any]:
    return {"type": "ACME", "name": "fleet", **fields}


def test_default_profile_is_always_offered() -> None:
    profiles = parse_profiles(None, CLAIMS, where="p")
    assert list(profiles) == [DEFAULT_PROFILE]
    assert profiles[DEFAULT_PROFILE].certificate.validity is None  # the claims' default applies


def test_profile_fields_reach_the_engine_profile() -> None:
    profiles = parse_profiles(
        {"shortlived": {"description": "d", "validity": "6h", "extKeyUsage": ["serverAuth"], "omitCommonName": True}},
        CLAIMS, where="p",
    )
    short = profiles["shortlived"]
    assert short.description == "d"
    assert short.certificate.validity == timedelta(hours=6)
    assert short.certificate.ext_key_usage == (ExtendedKeyUsage.SERVER_AUTH,)
    assert short.certificate.omit_common_name is True


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ({"long": {"validity": "72h"}}, "outside the provisioner's claims"),
        ({"tiny": {"validity": "5m"}}, "outside the provisioner's claims"),
        ({"x": {"validity": "soon"}}, "not a duration"),
        ({"x": {"extKeyUsage": ["serverAuth", "bogus"]}}, "extKeyUsage"),
        ({"x": {"extKeyUsage": []}}, "extKeyUsage"),
        ({"x": {"omitCommonName": "yes"}}, "omitCommonName"),
        ({"x": {"validty": "6h"}}, "unknown key 'validty'"),
        ({"x": "6h"}, "must be an object"),
        ({"has space": {}}, "profile name"),
        (["shortlived"], "profiles must be an object"),
    ],
)
def test_bad_profiles_are_refused(profiles: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_profiles(profiles, CLAIMS, where="provisioner fleet")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"profiles": {"long": {"validity": "720h"}}}, "profile 'long'"),
        ({"renewalInfo": {"windowStart": 0.9, "windowEnd": 0.5}}, "windowStart < windowEnd"),
        ({"renewalInfo": {"retryAfter": "often"}}, "retryAfter"),
        ({"renewalInfo": "soon"}, "expected an object"),
        ({"rateLimits": {"newOrdersPerAccount": "many"}}, "count/period"),
        ({"rateLimits": {"ordersPerDay": "1/1d"}}, "unknown limit"),
    ],
)
def test_bad_acme_documents_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_acme_document(_acme(**fields), Claims())
    with pytest.raises(Malformed, match=message):  # the admin API refuses the same document
        validate_document(_acme(**fields), Claims())


def test_a_good_document_loads_and_claims_admit_the_profile() -> None:
    document = _acme(
        claims={"maxTLSCertDuration": "720h", "defaultTLSCertDuration": "24h"},
        profiles={"month": {"validity": "720h"}},
        renewalInfo={"windowStart": 0.5, "windowEnd": 0.75, "retryAfter": "1h"},
        rateLimits={"newOrdersPerAccount": "300/3h"},
    )
    check_acme_document(document, Claims())
    validate_document(document, Claims())


def test_caa_recheck_after_is_a_validation_key() -> None:
    assert ValidationSettings.from_config({}).caa_recheck_after == timedelta(hours=7)
    assert ValidationSettings.from_config({"caaRecheckAfter": "1h"}).caa_recheck_after == timedelta(hours=1)
    with pytest.raises(ValueError, match="caaRecheckAfter"):
        ValidationSettings.from_config({"caaRecheckAfter": "-1h"})
