"""linkedca Provisioner JSON <-> ca.json objects: every supported type round-trips; bad input is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from acmeca.admin.service import linkedca
from acmeca.admin.web.errors import classify
from acmeca.domain import errors as e

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
DOCUMENTS: list[dict[str, Any]] = [
    {"type": "JWK", "name": "jwk", "key": {"kty": "EC", "crv": "P-256", "x": "x", "y": "y"},
     "encryptedKey": "a.b.c.d.e"},
    {"type": "ACME", "name": "acme", "forceCN": True, "requireEAB": True, "challenges": ["http-01", "dns-01"]},
    {"type": "X5C", "name": "x5c", "roots": base64.b64encode(PEM.encode()).decode()},
    {"type": "K8sSA", "name": "k8s", "publicKeys": base64.b64encode(PEM.encode()).decode()},
    {"type": "OIDC", "name": "oidc", "clientID": "cid", "clientSecret": "s", "configurationEndpoint": "https://i/x",
     "domains": ["example.com"], "admins": ["a@example.com"], "groups": ["g"]},
    {"type": "ACME", "name": "claims", "forceCN": False, "requireEAB": False,
     "claims": {"minTLSCertDuration": "1m", "maxTLSCertDuration": "48h",
                                                   "defaultTLSCertDuration": "1h", "disableRenewal": True}},
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d["name"])
def test_round_trip(document: dict[str, Any]) -> None:
    linked = linkedca.from_config("id-1", document)
    assert linked["type"] == document["type"].upper()
    assert json.loads(json.dumps(linked)) == linked
    assert linkedca.to_config(linked) == document


def test_acme_challenges_use_linkedca_enum_names() -> None:
    linked = linkedca.from_config("i", DOCUMENTS[1])
    assert linked["details"]["ACME"] == {"forceCn": True, "requireEab": True, "challenges": ["HTTP_01", "DNS_01"]}


BAD: list[tuple[dict[str, Any], type[e.CAError], str]] = [
    ({"type": "GCP", "name": "g"}, e.Malformed, "not supported"),
    ({"type": "ACME", "name": ""}, e.Malformed, "name cannot be empty"),
    ({"type": "ACME"}, e.Malformed, "name cannot be empty"),
    ({"type": "JWK", "name": "j", "details": {"JWK": {"publicKey": "!!"}}}, e.Malformed, "base64"),
    ({"type": "JWK", "name": "j", "details": {"JWK": {"publicKey": base64.b64encode(b"nope").decode()}}},
     e.Malformed, "JSON web key"),
    ({"type": "ACME", "name": "a", "claims": {"x509": {"durations": {"min": "forever"}}}}, e.Malformed, "duration"),
    ({"type": "ACME", "name": "a", "details": []}, e.Malformed, "details must be an object"),
    ({"type": "ACME", "name": "a", "x509Template": {"template": "e30="}}, e.NotImplementedYet, "x509Template"),
]


@pytest.mark.parametrize(("body", "error", "message"), BAD)
def test_bad_bodies_are_refused(body: dict[str, Any], error: type[e.CAError], message: str) -> None:
    with pytest.raises(error, match=message):
        linkedca.to_config(body)


@pytest.mark.parametrize(("error", "expected"), [
    (e.NotFound("x"), (404, "notFound")),
    (e.Unauthenticated("x"), (401, "unauthorized")),
    (e.Unauthorized("x"), (401, "unauthorized")),
    (e.Conflict("x"), (409, "conflict")),
    (e.NotImplementedYet("x"), (501, "notImplemented")),
    (e.Malformed("x"), (400, "badRequest")),
    (e.Forbidden("x"), (400, "badRequest")),
    (e.ServerInternal("x"), (500, "internalServerError")),
    (e.CAError("x"), (500, "internalServerError")),
])
def test_admin_error_types(error: e.CAError, expected: tuple[int, str]) -> None:
    status, kind, _ = classify(error)
    assert (status, kind) == expected
