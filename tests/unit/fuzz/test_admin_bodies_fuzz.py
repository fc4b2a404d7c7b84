"""Fuzzing the admin API's body parsers: linkedca Provisioner bodies (checked against linkedca's field tables,
converted to ca.json and validated as a provisioner that must serve), Policy bodies, and admin roles.

Bodies start from ones step's CLI sends (JWK, ACME, X5C, OIDC, K8sSA, with claims and durations) and get a
subtree replaced, dropped or added. Allowed outcomes: a value or a CAError (the admin edge's 400/501).
"""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import timedelta
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from acmeca.admin.service import linkedca_schema as schema
from acmeca.admin.service.admins import admin_type
from acmeca.admin.service.linkedca import to_config
from acmeca.admin.service.policies import _names_of
from acmeca.admin.service.provisioner_admin import validate_document
from acmeca.crypto.jose import generate_jwk, public_part
from acmeca.domain.claims import Claims
from acmeca.domain.errors import CAError
from acmeca.policy import X509Policy, parse_policy_document
from tests.unit.fuzz.strategies import cert_der, certificate_chain, dns_names, ip_texts, json_values, mutated_json

CLAIMS = Claims(min_duration=timedelta(minutes=5), max_duration=timedelta(hours=24),
                default_duration=timedelta(hours=1))
_PUBLIC = base64.b64encode(json.dumps(public_part(generate_jwk())).encode()).decode()
_ROOT_PEM = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(cert_der(certificate_chain()[0]))
    + b"-----END CERTIFICATE-----\n"
).decode()
BODIES: tuple[dict[str, Any], ...] = (
    {"type": "JWK", "name": "jwk", "details": {"JWK": {"publicKey": _PUBLIC}},
     "claims": {"x509": {"enabled": True, "durations": {"min": "5m", "max": "24h", "default": "1h"}}}},
    {"type": "ACME", "name": "acme", "details": {"ACME": {"challenges": ["HTTP_01", "DNS_01"], "requireEab": True}}},
    {"type": "X5C", "name": "x5c", "details": {"X5C": {"roots": [_ROOT_PEM]}}},
    {"type": "OIDC", "name": "oidc", "details": {"OIDC": {
        "clientId": "c", "clientSecret": "s", "configurationEndpoint": "https://idp.test/.well-known/openid-configuration",
        "domains": ["a.test"]}}},
    {"type": "K8SSA", "name": "k8s", "details": {"K8sSA": {"publicKeys": []}}},
)
_KEYS = ("type", "name", "details", "claims", "JWK", "ACME", "publicKey", "durations", "x509", "challenges",
         "roots", "webhooks", "x509Template", "forceCn", "min", "max", "default", "disableRenewal")


@st.composite
def provisioner_bodies(draw: st.DrawFn) -> Any:
    body = draw(st.sampled_from(BODIES))
    return draw(st.just(body) | mutated_json(body, _KEYS) | mutated_json(body, _KEYS).flatmap(
        lambda b: mutated_json(b, _KEYS)))


@given(provisioner_bodies())
@example({"type": "JWK", "name": "jwk", "details": {"JWK": {"publicKey": base64.b64encode(b"{}").decode()}}})
@example({"type": "JWK", "name": "jwk", "details": {"JWK": {"publicKey": _PUBLIC}},
          "claims": {"x509": {"durations": {"max": "99999999999999999h"}}}})
@example({"type": "JWK", "name": "j", "claims": {"x509": {"durations": []}}})
def test_provisioner_bodies_convert_or_raise_a_typed_error(body: Any) -> None:
    """What POST and PUT /admin/provisioners do with a body before anything is stored."""
    try:
        document = to_config(body)
        validate_document(document, CLAIMS)
    except CAError:
        pass


_POLICY = {"x509": {"allow": {"dns": ["*.a.test", "b.test"], "ips": ["10.0.0.0/8", "2001:db8::/32"],
                              "emails": ["@a.test"], "uris": ["*.a.test"], "commonNames": ["x"]},
                    "deny": {"dns": ["bad.a.test"]}, "allowWildcardNames": True},
           "ssh": {"user": {"allow": {"emails": ["@a.test"]}}, "host": {"deny": {"dns": ["*.x"]}}}}
_POLICY_KEYS = ("x509", "ssh", "allow", "deny", "dns", "ips", "emails", "uris", "commonNames", "allowWildcardNames")
_RULES = st.lists(dns_names | ip_texts | st.sampled_from(("@a.test", "a@", "@", "*.*.a", "10.0.0.0/33", "::/0")),
                  max_size=3)


@given(mutated_json(_POLICY, _POLICY_KEYS) | mutated_json(_POLICY, _POLICY_KEYS).flatmap(
    lambda p: mutated_json(p, _POLICY_KEYS)) | _RULES.map(lambda r: {"x509": {"allow": {"dns": r, "ips": r}}}),
    st.lists(dns_names | ip_texts | st.sampled_from(("a@b.test", "spiffe://x/y")), max_size=3))
@example({"x509": {"allow": {"ips": ["10.0.0.1%eth0"]}}}, ["10.0.0.1"])
def test_policy_bodies_parse_or_raise_a_typed_error(body: Any, subjects: list[str]) -> None:
    """What the policy endpoints do: linkedca Policy shape, policy rules, then the admin lock-out check."""
    try:
        document = parse_policy_document(schema.decode("Policy", body))
        policy = X509Policy.from_document(document)
        for subject in subjects:
            policy.violation(_names_of(subject))
    except CAError:
        pass


@given(st.sampled_from(tuple(schema.MESSAGES)), json_values)
def test_any_linkedca_message_decodes_or_raises_malformed(message: str, value: Any) -> None:
    with contextlib.suppress(CAError):
        schema.decode(message, value)


@given(json_values | st.sampled_from((1, 2, 3, "ADMIN", "SUPER_ADMIN", True, 1.0, "1")))
def test_admin_role_parses_or_raises_malformed(value: Any) -> None:
    with contextlib.suppress(CAError):
        admin_type(value)
