"""What the admin API writes decodes with step's strict protojson decoder (or, for the two Go-JSON lists, the
way step reads them), and what it reads is linkedca's field set: one test per rule, against the oracle's
tables written from the .proto files."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from acmeca.admin.service import linkedca, linkedca_schema
from acmeca.admin.service.admins import admin_json, admin_list_json
from acmeca.admin.service.eab import eab_json, eab_list_json, new_hmac_key, new_key_id
from acmeca.cli.commands.acme import listed_time
from acmeca.domain import errors as e
from acmeca.domain.acme import EabKeyRecord
from acmeca.domain.management import AdminRecord, AdminType
from tests.unit.admin import linkedca_oracle as oracle

NOW = datetime(2026, 6, 1, 12, 30, 15, tzinfo=UTC)
JWK = {"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "k"}


# -- the tables ------------------------------------------------------------------------------------------------
def test_the_servers_tables_are_the_current_linkedca_messages() -> None:
    served = {m: f for m, f in linkedca_schema.MESSAGES.items()}
    expected = {m: f for m, f in oracle.CURRENT.items() if m not in ("AdminList", "ProvisionerList",
                                                                     "ProvisionerIdentity")}
    assert served == expected
    assert linkedca_schema.ENUMS == oracle.ENUMS


@pytest.mark.parametrize(("proto", "json_name"), [
    ("authority_id", "authorityId"), ("x509_template", "x509Template"), ("K8sSA", "K8sSA"),
    ("allow_wildcard_names", "allowWildcardNames"), ("disable_smallstep_extensions", "disableSmallstepExtensions"),
])
def test_json_names_follow_protoc(proto: str, json_name: str) -> None:
    assert linkedca_schema.json_name(proto) == oracle.json_name(proto) == json_name


@pytest.mark.parametrize(("message", "value", "why"), [  # the oracle refuses each defect found on main
    ("Provisioner", {"claims": {"disableSmallstepExtensions": False}}, "newer than linkedca 0.19"),
    ("Provisioner", {"claims": {"disableRenewal": False}}, "zero value"),
    ("Provisioner", {"createdAt": ""}, "Timestamp"),
    ("EABKey", {"boundAt": ""}, "Timestamp"),
    ("Admin", {"provisionerName": "admin"}, "unknown field"),
    ("Admin", {"created_at": "2026-06-01T12:30:15Z"}, "proto name"),
    ("Admin", {"type": "UNKNOWN"}, "non-zero"),
    ("Policy", {"x509": {"allowWildcardNames": False}}, "zero value"),
    ("Provisioner", {"details": {"ACME": {}, "JWK": {}}}, "oneof"),
    ("Provisioner", {"claims": {}}, "empty message"),
])
def test_the_oracle_refuses_what_step_refuses(message: str, value: dict[str, Any], why: str) -> None:
    with pytest.raises(AssertionError, match=why):
        oracle.check_protojson(message, value)


# -- responses -------------------------------------------------------------------------------------------------
CA_JSON_PROVISIONERS: list[dict[str, Any]] = [  # as `acmeca init --acme` and the CLI write them
    {"type": "JWK", "name": "admin", "key": JWK, "encryptedKey": "a.b.c.d.e"},
    {"type": "ACME", "name": "acme"},
    {"type": "ACME", "name": "eab", "forceCN": False, "requireEAB": True, "challenges": ["http-01"],
     "termsOfService": "https://ca.test/tos"},
    {"type": "X5C", "name": "x5c", "roots": base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()},
    {"type": "K8sSA", "name": "k8s"},
    {"type": "OIDC", "name": "oidc", "clientID": "cid", "clientSecret": "", "configurationEndpoint": "https://i/x",
     "domains": [], "scopes": ["openid"]},
    {"type": "JWK", "name": "claims", "key": JWK, "claims": {
        "maxTLSCertDuration": "48h", "disableRenewal": False, "allowRenewalAfterExpiry": False,
        "disableSmallstepExtensions": False}},
]


@pytest.mark.parametrize("document", CA_JSON_PROVISIONERS, ids=lambda d: d["name"])
@pytest.mark.parametrize("created_at", ["", "2026-06-01T12:30:15Z", NOW, None])
def test_provisioner_json_decodes_with_linkedca_0_19(document: dict[str, Any], created_at: Any) -> None:
    linked = linkedca.from_config("id-1", document, created_at=created_at)
    oracle.check_protojson("Provisioner", linked)
    assert ("createdAt" in linked) == bool(created_at)
    assert list(linked["details"]) == [document["type"]]  # the set member of the oneof, even when empty


def test_provisioner_json_carries_newer_fields_only_when_set() -> None:
    document = {"type": "JWK", "name": "j", "key": JWK, "claims": {"disableSmallstepExtensions": True}}
    linked = linkedca.from_config("id", document, policy={"x509": {"allow": {"dns": ["a.test"]},
                                                                   "allowWildcardNames": False}})
    oracle.check_protojson("Provisioner", linked)
    assert linked["claims"] == {"x509": {"enabled": True}, "disableSmallstepExtensions": True}
    assert linked["policy"] == {"x509": {"allow": {"dns": ["a.test"]}}}


ADMIN = AdminRecord("a1", "step", "p1", AdminType.SUPER_ADMIN, NOW)


def test_admin_json_is_a_linkedca_admin() -> None:
    body = admin_json(ADMIN)
    oracle.check_protojson("Admin", body)
    assert body == {"id": "a1", "authorityId": linkedca.AUTHORITY_ID, "subject": "step", "provisionerId": "p1",
                    "type": "SUPER_ADMIN", "createdAt": "2026-06-01T12:30:15Z"}


def test_admin_list_is_go_json_of_the_struct() -> None:
    body = admin_list_json(AdminRecord("a2", "bob", "p1", AdminType.ADMIN, NOW.replace(microsecond=250)))
    oracle.check_go_json("Admin", body)
    assert body["type"] == 1
    assert oracle.go_time(body["created_at"]) == NOW.replace(microsecond=250)


UNBOUND = EabKeyRecord("k" * 32, "p1", None, b"\x01" * 32, NOW)
BOUND = EabKeyRecord("K" * 32, "p1", "team-a", b"\x02" * 32, NOW, account_id="acct-1", bound_at=NOW)


def test_new_eab_key_is_a_linkedca_eab_key_with_its_secret() -> None:
    body = eab_json(UNBOUND, "acme")
    oracle.check_protojson("EABKey", body)
    assert base64.b64decode(body["hmacKey"]) == b"\x01" * 32
    assert "boundAt" not in body
    assert "reference" not in body


def test_listed_eab_keys_are_go_json_as_upstream_writes_them() -> None:
    unbound = eab_list_json(UNBOUND, "acme")
    oracle.check_go_json("EABKey", unbound)
    assert unbound == {"id": "k" * 32, "provisioner": "acme", "created_at": {"seconds": int(NOW.timestamp())},
                       "bound_at": {"seconds": oracle.GO_ZERO_TIME_SECONDS}}
    bound = eab_list_json(BOUND, "acme", policy={"x509": {"allow": {"commonNames": ["x"]},
                                                          "allowWildcardNames": False}})
    oracle.check_go_json("EABKey", bound)
    assert oracle.go_time(bound["bound_at"]) == NOW
    assert (bound["account"], bound["reference"]) == ("acct-1", "team-a")
    assert bound["policy"] == {"x509": {"allow": {"common_names": ["x"]}}}
    assert "hmac_key" not in bound


def test_the_cli_prints_listed_times_as_step_does() -> None:
    assert listed_time({"seconds": int(NOW.timestamp())}) == "2026-06-01 12:30:15 +00:00"
    assert listed_time({"seconds": oracle.GO_ZERO_TIME_SECONDS}) == ""  # unbound
    assert listed_time(None) == ""


def test_eab_keys_are_made_like_step_cas() -> None:
    ids = {new_key_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", key_id) for key_id in ids)
    keys = {new_hmac_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(key) == 32 for key in keys)


def test_eab_hmac_keys_never_read_as_a_command_line_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """certbot's --eab-hmac-key refused a key whose base64url began with '-' (seen in CI)."""
    dashed = base64.urlsafe_b64decode("-" + "A" * 42 + "=")  # 32 bytes whose text starts with '-'
    draws = iter([dashed, b"\x01" * 32])
    monkeypatch.setattr("acmeca.admin.service.eab.secrets.token_bytes", lambda n: next(draws))
    assert new_hmac_key() == b"\x01" * 32


# -- requests --------------------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


STEP_ADD_JWK: dict[str, Any] = {  # `step beta ca provisioner add j --type JWK --create`, protojson-marshalled
    "type": "JWK", "name": "j",
    "details": {"JWK": {"publicKey": _b64(json.dumps(JWK).encode()), "encryptedPrivateKey": _b64(b"a.b.c.d.e")}},
    "claims": {"x509": {"enabled": True, "durations": {}},
               "ssh": {"enabled": True, "userDurations": {}, "hostDurations": {}}},
    "x509Template": {}, "sshTemplate": {},
}


@pytest.mark.parametrize("body", [
    STEP_ADD_JWK,
    {**STEP_ADD_JWK, "id": "i", "authorityId": linkedca.AUTHORITY_ID, "createdAt": "2026-06-01T12:30:15.123456789Z"},
    {"type": 6, "name": "a", "details": {"ACME": {"require_eab": True, "challenges": [1, "DNS_01"]}},
     "claims": {"disable_renewal": True, "x509": None}, "policy": None},
])
def test_linkedca_bodies_are_read(body: dict[str, Any]) -> None:
    document = linkedca.to_config(body)
    assert document["name"] == body["name"]


def test_proto_names_and_enum_numbers_are_read_as_protojson_reads_them() -> None:
    document = linkedca.to_config(
        {"type": 6, "name": "a", "details": {"ACME": {"require_eab": True, "challenges": [1, "DNS_01"]}},
         "claims": {"disable_renewal": True}}
    )
    assert document == {"type": "ACME", "name": "a", "forceCN": False, "requireEAB": True,
                        "challenges": ["http-01", "dns-01"], "claims": {"disableRenewal": True}}


@pytest.mark.parametrize(("body", "field"), [
    ({**STEP_ADD_JWK, "provisionerName": "x"}, '"provisionerName"'),
    ({**STEP_ADD_JWK, "claims": {"disableSmallstepExtension": True}}, '"claims.disableSmallstepExtension"'),
    ({**STEP_ADD_JWK, "details": {"JWK": {"publicKey": "e30=", "password": "x"}}}, '"details.JWK.password"'),
    ({**STEP_ADD_JWK, "createdAt": ""}, '"createdAt" must be an RFC 3339 time'),
    ({**STEP_ADD_JWK, "type": "ROOT"}, '"type" must be one of'),
    ({**STEP_ADD_JWK, "name": 7}, '"name" must be a string'),
    ({**STEP_ADD_JWK, "claims": {"disableRenewal": "yes"}}, '"claims.disableRenewal" must be true or false'),
    ({**STEP_ADD_JWK, "details": {"JWK": {"publicKey": "!!"}}}, '"details.JWK.publicKey" must be base64'),
    ({**STEP_ADD_JWK, "details": {"JWK": {}, "ACME": {}}}, "only one of"),
    ({**STEP_ADD_JWK, "webhooks": {}}, '"webhooks" must be a list'),
    ({**STEP_ADD_JWK, "name": "a", "authorityId": "x", "authority_id": "x"}, '"authority_id"'),
    ({"type": "ACME", "name": "a", "details": {"ACME": {"challenges": ["http-01"]}}},
     '"details.ACME.challenges\\[0\\]" must be one of'),
])
def test_a_field_outside_linkedca_is_a_bad_request_naming_it(body: dict[str, Any], field: str) -> None:
    with pytest.raises(e.Malformed, match=field):
        linkedca.to_config(body)


@pytest.mark.parametrize("body", [
    {**STEP_ADD_JWK, "webhooks": [{"name": "w", "url": "https://hook.test"}]},
    {"type": "ACME", "name": "a", "details": {"ACME": {"attestationFormats": ["APPLE"]}}},
    {**STEP_ADD_JWK, "sshTemplate": {"data": "e30="}},
])
def test_linkedca_fields_acmeca_cannot_honour_are_refused_not_ignored(body: dict[str, Any]) -> None:
    with pytest.raises(e.NotImplementedYet):
        linkedca.to_config(body)


@pytest.mark.parametrize(("body", "field"), [
    ({"x509": {"allow": {"dns": ["a.test"]}, "allowWildcardNames": True}}, None),
    ({"x509": {"allow": {"common_names": ["a"]}}, "ssh": {"host": {"deny": {"principals": ["p"]}}}}, None),
    ({"x509": {"allow": {"cn": ["a"]}}}, '"x509.allow.cn"'),
    ({"ssh": {"host": {"allow": {"emails": ["a@b.test"]}}}}, '"ssh.host.allow.emails"'),
    ({"x509": {"allow": {"dns": "a.test"}}}, '"x509.allow.dns" must be a list'),
])
def test_policy_bodies_are_linkedca_policies(body: dict[str, Any], field: str | None) -> None:
    if field is None:
        oracle.check_protojson("Policy", linkedca_schema.encode("Policy", linkedca_schema.decode("Policy", body)))
    else:
        with pytest.raises(e.Malformed, match=field):
            linkedca_schema.decode("Policy", body)


def test_request_structs_refuse_fields_they_lack() -> None:
    linkedca_schema.only({"subject": "a", "provisioner": "p", "type": 1}, ("subject", "provisioner", "type"), "x")
    with pytest.raises(e.Malformed, match='unknown field "provisionerName"'):
        linkedca_schema.only({"subject": "a", "provisionerName": "p"}, ("subject", "provisioner", "type"), "x")
