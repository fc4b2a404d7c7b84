"""The test oracle for the admin API's wire format: linkedca's field tables, written out by hand from the
.proto files, and two checkers that read JSON the way step does.

- ``V0_19``: ``go.step.sm/linkedca`` 0.19 (``/usr/share/gocode/src/go.step.sm/linkedca/*.proto``), the messages
  step 0.19 decodes into. Its protojson decoder refuses any field not in here.
- ``CURRENT``: ``github.com/smallstep/linkedca`` ``spec/linkedca/*.proto`` (v0.25), ``V0_19`` plus ``NEWER``.

:func:`check_protojson` is stricter than protojson's decoder in the ways the admin API promises: lowerCamelCase
names only, no zero value (``""``, ``false``, ``0``, ``[]``, ``{}`` outside a oneof, enum zero), Timestamps
as protojson marshals them (UTC, ``Z``), a field newer than 0.19 only when set. :func:`check_go_json` reads
the two lists upstream writes with Go's encoding/json (``json:"snake_name,omitempty"`` struct tags).

Kept independent of ``acmeca.admin.service.linkedca_schema`` on purpose: ``test_linkedca_wire`` compares the two.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from typing import Any

STRINGS = "repeated string"
V0_19: dict[str, dict[str, str]] = {
    # admin.proto
    "Admin": {
        "id": "string", "authority_id": "string", "subject": "string", "provisioner_id": "string",
        "type": "enum Admin.Type", "created_at": "Timestamp", "deleted_at": "Timestamp",
    },
    "AdminList": {"admins": "repeated Admin"},
    # eab.proto
    "EABKey": {
        "id": "string", "hmac_key": "bytes", "provisioner": "string", "reference": "string", "account": "string",
        "created_at": "Timestamp", "bound_at": "Timestamp", "policy": "Policy",
    },
    # policy.proto
    "Policy": {"x509": "X509Policy", "ssh": "SSHPolicy"},
    "X509Policy": {"allow": "X509Names", "deny": "X509Names", "allow_wildcard_names": "bool"},
    "SSHPolicy": {"host": "SSHHostPolicy", "user": "SSHUserPolicy"},
    "SSHHostPolicy": {"allow": "SSHHostNames", "deny": "SSHHostNames"},
    "SSHUserPolicy": {"allow": "SSHUserNames", "deny": "SSHUserNames"},
    "X509Names": {"dns": STRINGS, "ips": STRINGS, "emails": STRINGS, "uris": STRINGS, "common_names": STRINGS},
    "SSHHostNames": {"dns": STRINGS, "ips": STRINGS, "principals": STRINGS},
    "SSHUserNames": {"emails": STRINGS, "principals": STRINGS},
    # provisioners.proto
    "Provisioner": {
        "id": "string", "authority_id": "string", "type": "enum Provisioner.Type", "name": "string",
        "details": "ProvisionerDetails", "claims": "Claims", "x509_template": "Template",
        "ssh_template": "Template", "created_at": "Timestamp", "deleted_at": "Timestamp", "policy": "Policy",
        "webhooks": "repeated Webhook",
    },
    "ProvisionerIdentity": {"id": "string", "type": "enum Provisioner.Type", "name": "string"},
    "ProvisionerDetails": {
        "JWK": "JWKProvisioner", "OIDC": "OIDCProvisioner", "GCP": "GCPProvisioner", "AWS": "AWSProvisioner",
        "Azure": "AzureProvisioner", "ACME": "ACMEProvisioner", "X5C": "X5CProvisioner",
        "K8sSA": "K8sSAProvisioner", "SSHPOP": "SSHPOPProvisioner", "SCEP": "SCEPProvisioner",
        "Nebula": "NebulaProvisioner",
    },
    "ProvisionerList": {"provisioners": "repeated Provisioner"},
    "Claims": {
        "x509": "X509Claims", "ssh": "SSHClaims", "disable_renewal": "bool", "allow_renewal_after_expiry": "bool",
    },
    "X509Claims": {"enabled": "bool", "durations": "Durations"},
    "SSHClaims": {"enabled": "bool", "user_durations": "Durations", "host_durations": "Durations"},
    "Durations": {"default": "string", "min": "string", "max": "string"},
    "Template": {"template": "bytes", "data": "bytes"},
    "JWKProvisioner": {"public_key": "bytes", "encrypted_private_key": "bytes"},
    "OIDCProvisioner": {
        "client_id": "string", "client_secret": "string", "configuration_endpoint": "string", "admins": STRINGS,
        "domains": STRINGS, "groups": STRINGS, "listen_address": "string", "tenant_id": "string",
    },
    "GCPProvisioner": {
        "service_accounts": STRINGS, "project_ids": STRINGS, "disable_custom_sans": "bool",
        "disable_trust_on_first_use": "bool", "instance_age": "string",
    },
    "AWSProvisioner": {
        "accounts": STRINGS, "disable_custom_sans": "bool", "disable_trust_on_first_use": "bool",
        "instance_age": "string",
    },
    "AzureProvisioner": {
        "tenant_id": "string", "resource_groups": STRINGS, "audience": "string", "disable_custom_sans": "bool",
        "disable_trust_on_first_use": "bool", "subscription_ids": STRINGS, "object_ids": STRINGS,
    },
    "ACMEProvisioner": {
        "force_cn": "bool", "require_eab": "bool", "challenges": "repeated enum ACMEProvisioner.ChallengeType",
        "attestation_formats": "repeated enum ACMEProvisioner.AttestationFormatType",
        "attestation_roots": "repeated bytes", "terms_of_service": "string", "website": "string",
        "caa_identities": STRINGS,
    },
    "X5CProvisioner": {"roots": "repeated bytes"},
    "K8sSAProvisioner": {"public_keys": "repeated bytes"},
    "SSHPOPProvisioner": {},
    "SCEPProvisioner": {
        "force_cn": "bool", "challenge": "string", "capabilities": STRINGS, "minimum_public_key_length": "int32",
        "include_root": "bool", "encryption_algorithm_identifier": "int32",
    },
    "NebulaProvisioner": {"roots": "repeated bytes"},
    "BasicAuth": {"username": "string", "password": "string"},
    "BearerToken": {"bearer_token": "string"},
    "Webhook": {
        "name": "string", "id": "string", "url": "string", "kind": "enum Webhook.Kind", "secret": "string",
        "bearer_token": "BearerToken", "basic_auth": "BasicAuth", "disable_tls_client_auth": "bool",
        "cert_type": "enum Webhook.CertType",
    },
}
# What the current spec/linkedca/*.proto adds to 0.19 (nothing is removed or renamed).
NEWER: dict[str, dict[str, str]] = {
    "Claims": {"disable_smallstep_extensions": "bool"},
    "OIDCProvisioner": {"scopes": STRINGS, "auth_params": STRINGS},
    "GCPProvisioner": {"disable_ssh_ca_user": "bool", "disable_ssh_ca_host": "bool", "organization_id": "string"},
    "SCEPProvisioner": {"decrypter": "SCEPDecrypter", "exclude_intermediate": "bool"},
    "SCEPDecrypter": {"certificate": "bytes", "key": "bytes", "key_uri": "string", "key_password": "bytes"},
}
CURRENT: dict[str, dict[str, str]] = {
    name: {**V0_19.get(name, {}), **NEWER.get(name, {})} for name in {*V0_19, *NEWER}
}
ENUMS_0_19: dict[str, tuple[str, ...]] = {
    "Admin.Type": ("UNKNOWN", "ADMIN", "SUPER_ADMIN"),
    "Provisioner.Type": (
        "NOOP", "JWK", "OIDC", "GCP", "AWS", "AZURE", "ACME", "X5C", "K8SSA", "SSHPOP", "SCEP", "NEBULA",
    ),
    "ACMEProvisioner.ChallengeType": ("UNKNOWN", "HTTP_01", "DNS_01", "TLS_ALPN_01", "DEVICE_ATTEST_01"),
    "ACMEProvisioner.AttestationFormatType": ("NONE", "APPLE", "STEP", "TPM"),
    "Webhook.Kind": ("NO_KIND", "ENRICHING", "AUTHORIZING"),
    "Webhook.CertType": ("ALL", "X509", "SSH"),
}
ENUMS: dict[str, tuple[str, ...]] = {**ENUMS_0_19, "Webhook.Kind": (*ENUMS_0_19["Webhook.Kind"], "SCEPCHALLENGE",
                                                                    "NOTIFYING")}
ONEOFS = {"ProvisionerDetails": frozenset(V0_19["ProvisionerDetails"]),
          "Webhook": frozenset({"bearer_token", "basic_auth"})}
# protojson marshals a Timestamp in UTC with 0, 3, 6 or 9 fractional digits
PROTOJSON_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z\Z")
GO_ZERO_TIME_SECONDS = -62135596800  # timestamppb.New(time.Time{})


def json_name(proto_name: str) -> str:
    head, *rest = proto_name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _fail(path: str, why: str) -> AssertionError:
    return AssertionError(f"{path}: {why}")


def _is_std_base64(text: Any) -> bool:
    if not isinstance(text, str) or len(text) % 4:
        return False
    try:
        base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return False
    return True


def check_protojson(message: str, value: Any, path: str = "") -> None:
    """``value`` must decode with step 0.19's ``protojson.Unmarshal`` into linkedca ``message`` and hold no
    zero value; raises AssertionError naming the first offending field."""
    where = path or message
    if not isinstance(value, dict):
        raise _fail(where, f"linkedca {message} must be a JSON object, not {value!r}")
    by_json = {json_name(name): (name, kind) for name, kind in CURRENT[message].items()}
    for key, item in value.items():
        here = f"{where}.{key}"
        if key not in by_json:
            spelling = "a proto name, not the lowerCamelCase one" if key in CURRENT[message] else "unknown"
            raise _fail(here, f"{spelling} field of linkedca {message} (protojson: unknown field {key!r})")
        name, kind = by_json[key]
        if name not in V0_19.get(message, {}) and item in (None, "", False, 0, [], {}):
            raise _fail(here, "a field newer than linkedca 0.19 must only be sent when set")
        _check_value(kind, item, here, oneof=name in ONEOFS.get(message, ()))
    if len(set(value) & {json_name(n) for n in ONEOFS.get(message, ())}) > 1:
        raise _fail(where, "more than one member of a oneof")


def _check_value(kind: str, item: Any, path: str, *, oneof: bool = False) -> None:
    if kind == "Timestamp":  # protojson's own error for "" (the decoder refuses it before anything else)
        _check_single(kind, item, path)
    if item is None or (item in ("", False, 0, []) and not isinstance(item, dict)):
        raise _fail(path, f"zero value {item!r} is never emitted by protojson")
    if kind.startswith("repeated "):
        if not isinstance(item, list):
            raise _fail(path, "must be a list")
        for i, element in enumerate(item):
            _check_single(kind.removeprefix("repeated "), element, f"{path}[{i}]", in_list=True)
        return
    if item == {} and not oneof:
        raise _fail(path, "an empty message is only written for the set member of a oneof")
    _check_single(kind, item, path)


def _check_single(kind: str, item: Any, path: str, *, in_list: bool = False) -> None:
    if kind.startswith("enum "):
        names = ENUMS_0_19[kind.removeprefix("enum ")]
        if item not in names or (item == names[0] and not in_list):
            raise _fail(path, f"{item!r} is not a non-zero {kind} name of linkedca 0.19")
    elif kind == "string":
        if not isinstance(item, str):
            raise _fail(path, "must be a string")
    elif kind == "bool":
        if item is not True:
            raise _fail(path, "must be true (false is never emitted)")
    elif kind == "int32":
        if not isinstance(item, int) or isinstance(item, bool):
            raise _fail(path, "must be a number")
    elif kind == "bytes":
        if not _is_std_base64(item):
            raise _fail(path, "bytes must be standard, padded base64 (as protojson writes them)")
    elif kind == "Timestamp":
        if not isinstance(item, str) or not PROTOJSON_TIME.match(item):
            raise _fail(path, f"invalid google.protobuf.Timestamp value {item!r}")
        datetime.fromisoformat(item)
    else:
        check_protojson(kind, item, path)


def check_go_json(message: str, value: Any, path: str = "") -> None:
    """``value`` must be what Go's encoding/json writes for the generated linkedca struct: proto names,
    ``omitempty`` (no zero values), enums as numbers, Timestamps as ``{"seconds", "nanos"}``."""
    where = path or message
    if not isinstance(value, dict):
        raise _fail(where, "must be a JSON object")
    fields = V0_19[message]
    for key, item in value.items():
        here = f"{where}.{key}"
        if key not in fields:
            raise _fail(here, f"linkedca {message} has no Go JSON field {key!r} (tags are snake_case)")
        kind = fields[key]
        if item in (None, "", False, 0, [], {}):
            raise _fail(here, f"zero value {item!r}: omitempty leaves it out")
        if kind == "Timestamp":
            go_time(item, here)
        elif kind.startswith("enum "):
            if not isinstance(item, int) or isinstance(item, bool):
                raise _fail(here, "Go's encoding/json writes an enum as a number")
        elif kind == "string" and not isinstance(item, str):
            raise _fail(here, "must be a string")
        elif kind == "bytes" and not _is_std_base64(item):
            raise _fail(here, "[]byte is standard padded base64 in Go's encoding/json")
        elif kind == "Policy":
            check_go_json_policy(item, here)


def check_go_json_policy(value: Any, path: str, message: str = "Policy") -> None:
    if not isinstance(value, dict):
        raise _fail(path, "must be a JSON object")
    for key, item in value.items():
        kind = V0_19[message].get(key)
        if kind is None:
            raise _fail(f"{path}.{key}", f"linkedca {message} has no Go JSON field {key!r}")
        if item in (None, "", False, 0, [], {}):
            raise _fail(f"{path}.{key}", "zero value: omitempty leaves it out")
        if kind in V0_19:
            check_go_json_policy(item, f"{path}.{key}", kind)


def go_time(value: Any, path: str = "Timestamp") -> datetime:
    """A ``timestamppb.Timestamp`` read by Go's encoding/json."""
    if not isinstance(value, dict) or set(value) - {"seconds", "nanos"}:
        raise _fail(path, f"a Timestamp in Go's encoding/json is {{seconds, nanos}}, not {value!r}")
    if any(not isinstance(v, int) or isinstance(v, bool) or v == 0 for v in value.values()):
        raise _fail(path, "seconds and nanos are non-zero numbers (omitempty)")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
        seconds=value.get("seconds", 0), microseconds=value.get("nanos", 0) // 1000
    )
