"""linkedca messages as the admin API puts them on the wire: the field tables and the two JSON forms.

step's CLI decodes most admin responses with protojson's strict decoder, which refuses a field its linkedca
does not know and an empty string where a Timestamp goes. So responses are rendered from these tables the way
protojson marshals (lowerCamelCase names, zero values left out, times in RFC 3339, enums by name), and request
bodies are checked against them: a field linkedca does not have is a 400 naming it, never quietly ignored.

Two lists (admins, EAB keys) are written by upstream with Go's ``encoding/json`` over the generated structs,
and step reads them the same way: proto field names, enums as numbers, Timestamps as ``{"seconds", "nanos"}``
objects. :func:`encode` with ``go=True`` renders that form.

The tables are the current linkedca ``spec/linkedca/*.proto`` (a superset of the 0.19 messages step 0.19
decodes into). Fields newer than 0.19 (``Claims.disable_smallstep_extensions``, ``OIDCProvisioner.scopes``
and ``auth_params``, ...) only reach the wire when set, since zero values never do.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from acmeca.domain.encoding import rfc3339
from acmeca.domain.errors import Malformed

_NAMES = "repeated string"
MESSAGES: dict[str, dict[str, str]] = {
    "Admin": {
        "id": "string", "authority_id": "string", "subject": "string", "provisioner_id": "string",
        "type": "enum Admin.Type", "created_at": "Timestamp", "deleted_at": "Timestamp",
    },
    "EABKey": {
        "id": "string", "hmac_key": "bytes", "provisioner": "string", "reference": "string", "account": "string",
        "created_at": "Timestamp", "bound_at": "Timestamp", "policy": "Policy",
    },
    "Policy": {"x509": "X509Policy", "ssh": "SSHPolicy"},
    "X509Policy": {"allow": "X509Names", "deny": "X509Names", "allow_wildcard_names": "bool"},
    "SSHPolicy": {"host": "SSHHostPolicy", "user": "SSHUserPolicy"},
    "SSHHostPolicy": {"allow": "SSHHostNames", "deny": "SSHHostNames"},
    "SSHUserPolicy": {"allow": "SSHUserNames", "deny": "SSHUserNames"},
    "X509Names": {"dns": _NAMES, "ips": _NAMES, "emails": _NAMES, "uris": _NAMES, "common_names": _NAMES},
    "SSHHostNames": {"dns": _NAMES, "ips": _NAMES, "principals": _NAMES},
    "SSHUserNames": {"emails": _NAMES, "principals": _NAMES},
    "Provisioner": {
        "id": "string", "authority_id": "string", "type": "enum Provisioner.Type", "name": "string",
        "details": "ProvisionerDetails", "claims": "Claims", "x509_template": "Template",
        "ssh_template": "Template", "created_at": "Timestamp", "deleted_at": "Timestamp", "policy": "Policy",
        "webhooks": "repeated Webhook",
    },
    "ProvisionerDetails": {  # a oneof: at most one of them
        "JWK": "JWKProvisioner", "OIDC": "OIDCProvisioner", "GCP": "GCPProvisioner", "AWS": "AWSProvisioner",
        "Azure": "AzureProvisioner", "ACME": "ACMEProvisioner", "X5C": "X5CProvisioner",
        "K8sSA": "K8sSAProvisioner", "SSHPOP": "SSHPOPProvisioner", "SCEP": "SCEPProvisioner",
        "Nebula": "NebulaProvisioner",
    },
    "Claims": {
        "x509": "X509Claims", "ssh": "SSHClaims", "disable_renewal": "bool", "allow_renewal_after_expiry": "bool",
        "disable_smallstep_extensions": "bool",
    },
    "X509Claims": {"enabled": "bool", "durations": "Durations"},
    "SSHClaims": {"enabled": "bool", "user_durations": "Durations", "host_durations": "Durations"},
    "Durations": {"default": "string", "min": "string", "max": "string"},
    "Template": {"template": "bytes", "data": "bytes"},
    "JWKProvisioner": {"public_key": "bytes", "encrypted_private_key": "bytes"},
    "OIDCProvisioner": {
        "client_id": "string", "client_secret": "string", "configuration_endpoint": "string", "admins": _NAMES,
        "domains": _NAMES, "groups": _NAMES, "listen_address": "string", "tenant_id": "string", "scopes": _NAMES,
        "auth_params": _NAMES,
    },
    "GCPProvisioner": {
        "service_accounts": _NAMES, "project_ids": _NAMES, "disable_custom_sans": "bool",
        "disable_trust_on_first_use": "bool", "instance_age": "string", "disable_ssh_ca_user": "bool",
        "disable_ssh_ca_host": "bool", "organization_id": "string",
    },
    "AWSProvisioner": {
        "accounts": _NAMES, "disable_custom_sans": "bool", "disable_trust_on_first_use": "bool",
        "instance_age": "string",
    },
    "AzureProvisioner": {
        "tenant_id": "string", "resource_groups": _NAMES, "audience": "string", "disable_custom_sans": "bool",
        "disable_trust_on_first_use": "bool", "subscription_ids": _NAMES, "object_ids": _NAMES,
    },
    "ACMEProvisioner": {
        "force_cn": "bool", "require_eab": "bool", "challenges": "repeated enum ACMEProvisioner.ChallengeType",
        "attestation_formats": "repeated enum ACMEProvisioner.AttestationFormatType",
        "attestation_roots": "repeated bytes", "terms_of_service": "string", "website": "string",
        "caa_identities": _NAMES,
    },
    "X5CProvisioner": {"roots": "repeated bytes"},
    "K8sSAProvisioner": {"public_keys": "repeated bytes"},
    "SSHPOPProvisioner": {},
    "SCEPDecrypter": {"certificate": "bytes", "key": "bytes", "key_uri": "string", "key_password": "bytes"},
    "SCEPProvisioner": {
        "force_cn": "bool", "challenge": "string", "capabilities": _NAMES, "minimum_public_key_length": "int32",
        "include_root": "bool", "encryption_algorithm_identifier": "int32", "decrypter": "SCEPDecrypter",
        "exclude_intermediate": "bool",
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
ONEOFS: dict[str, tuple[str, ...]] = {
    "ProvisionerDetails": tuple(MESSAGES["ProvisionerDetails"]), "Webhook": ("bearer_token", "basic_auth"),
}
ENUMS: dict[str, tuple[str, ...]] = {
    "Admin.Type": ("UNKNOWN", "ADMIN", "SUPER_ADMIN"),
    "Provisioner.Type": (
        "NOOP", "JWK", "OIDC", "GCP", "AWS", "AZURE", "ACME", "X5C", "K8SSA", "SSHPOP", "SCEP", "NEBULA",
    ),
    "ACMEProvisioner.ChallengeType": ("UNKNOWN", "HTTP_01", "DNS_01", "TLS_ALPN_01", "DEVICE_ATTEST_01"),
    "ACMEProvisioner.AttestationFormatType": ("NONE", "APPLE", "STEP", "TPM"),
    "Webhook.Kind": ("NO_KIND", "ENRICHING", "AUTHORIZING", "SCEPCHALLENGE", "NOTIFYING"),
    "Webhook.CertType": ("ALL", "X509", "SSH"),
}
SCALARS = frozenset({"string", "bool", "bytes", "int32", "Timestamp"})
INT32 = (-(2**31), 2**31 - 1)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)\Z")
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)  # Go's time.Time{}, which timestamppb.New turns into a real value


def json_name(proto_name: str) -> str:
    """protoc's JSON name: each ``_x`` becomes ``X`` (``x509_template`` -> ``x509Template``; ``K8sSA`` stays)."""
    head, *rest = proto_name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# message -> {json name or proto name: (json name, proto name, type)}
_FIELDS: dict[str, dict[str, tuple[str, str, str]]] = {
    message: {
        spelling: (json_name(name), name, kind)
        for name, kind in fields.items() for spelling in (json_name(name), name)
    }
    for message, fields in MESSAGES.items()
}


def _split(kind: str) -> tuple[bool, str]:
    repeated = kind.startswith("repeated ")
    return repeated, kind.removeprefix("repeated ")


# -- requests -----------------------------------------------------------------------------------------------
def decode(message: str, value: Any, path: str = "") -> dict[str, Any]:
    """A request body checked against linkedca ``message`` as protojson would, keys in lowerCamelCase.

    Both spellings protojson accepts are accepted (``authorityId`` and ``authority_id``); ``null`` means
    unset; enum numbers become names. Anything else raises :class:`Malformed` naming the field.
    """
    if not isinstance(value, Mapping):
        raise Malformed(f"{path or message} must be an object (linkedca {message})")
    fields = _FIELDS[message]
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else str(key)
        found = fields.get(key)
        if found is None:
            raise Malformed(f'unknown field "{where}": linkedca {message} has no field {key!r}')
        name, _, kind = found
        if name in out:
            raise Malformed(f'duplicate field "{where}"')
        if item is not None:
            out[name] = _decode_field(kind, item, where)
    oneof = {json_name(name) for name in ONEOFS.get(message, ())}
    chosen = [name for name in out if name in oneof]
    if len(chosen) > 1:
        raise Malformed(f"{path or message}: only one of {', '.join(chosen)} may be set")
    return out


def only(body: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> None:
    """Bodies that are upstream request structs, not linkedca messages: refuse a field they lack by name."""
    for key in body:
        if key not in allowed:
            raise Malformed(f'unknown field "{key}": {what} takes {", ".join(allowed)}')


def _decode_field(kind: str, item: Any, where: str) -> Any:
    repeated, base = _split(kind)
    if not repeated:
        return _decode_single(base, item, where)
    if not isinstance(item, list):
        raise Malformed(f'field "{where}" must be a list')
    return [_decode_single(base, element, f"{where}[{i}]") for i, element in enumerate(item)]


def _decode_single(kind: str, item: Any, where: str) -> Any:
    if kind.startswith("enum "):
        return _decode_enum(kind.removeprefix("enum "), item, where)
    if kind not in SCALARS:
        return decode(kind, item, where)
    if kind == "bool" and isinstance(item, bool):
        return item
    if kind == "int32" and not isinstance(item, bool):
        number = _int32(item)
        if number is not None:
            return number
    if kind == "string" and isinstance(item, str):
        return item
    if kind == "bytes" and isinstance(item, str) and _base64(item) is not None:
        return item
    if kind == "Timestamp" and isinstance(item, str) and parse_timestamp(item) is not None:
        return item
    expected = {"bool": "true or false", "int32": "a 32-bit integer", "string": "a string",
                "bytes": "base64 text", "Timestamp": "an RFC 3339 time"}[kind]
    raise Malformed(f'field "{where}" must be {expected}')


def _int32(item: Any) -> int | None:
    if isinstance(item, str) and re.fullmatch(r"-?\d+", item):
        item = int(item)
    if isinstance(item, float) and item.is_integer():
        item = int(item)
    return item if isinstance(item, int) and INT32[0] <= item <= INT32[1] else None


def _decode_enum(enum: str, item: Any, where: str) -> str:
    names = ENUMS[enum]
    if isinstance(item, str) and item in names:
        return item
    if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(names):
        return names[item]
    raise Malformed(f'field "{where}" must be one of {", ".join(names)}')


def _base64(text: str) -> bytes | None:
    """protojson's bytes: standard or URL alphabet, padded or not."""
    try:
        altchars = b"-_" if "-" in text or "_" in text else None
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)
    except (ValueError, binascii.Error):
        return None


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 time as protojson reads it (``Z`` or an offset, at most nine fractional digits)."""
    if not _TIMESTAMP.match(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# -- responses ----------------------------------------------------------------------------------------------
def encode(message: str, value: Mapping[str, Any], *, go: bool = False, strict: bool = True) -> dict[str, Any]:
    """``value`` (lowerCamelCase keys) as protojson marshals linkedca ``message``, or as Go's encoding/json
    marshals the generated struct when ``go``. Zero values are left out either way, except the one set member
    of a oneof, which protojson writes even when empty (``"details": {"ACME": {}}``).

    A key the message does not have is a bug here, not in the request: it raises ``ValueError``, unless not
    ``strict`` (documents stored before requests were checked), where it is left out.
    """
    fields = _FIELDS[message]
    oneof = {json_name(name) for name in ONEOFS.get(message, ())}
    out: dict[str, Any] = {}
    for key, item in value.items():
        found = fields.get(key)
        if found is None or found[0] != key:
            if strict:
                raise ValueError(f"linkedca {message} has no field {key!r}")
            continue
        name, proto_name, kind = found
        encoded = _encode_field(kind, item, go=go, strict=strict)
        if encoded not in (None, "", False, 0, [], {}) or (name in oneof and encoded == {}):
            out[proto_name if go else name] = encoded
    return out


def _encode_field(kind: str, item: Any, *, go: bool, strict: bool) -> Any:
    repeated, base = _split(kind)
    if item is None:
        return None
    if repeated:
        return [_encode_single(base, element, go=go, strict=strict) for element in item]
    return _encode_single(base, item, go=go, strict=strict)


def _encode_single(kind: str, item: Any, *, go: bool, strict: bool) -> Any:
    if kind.startswith("enum "):
        names = ENUMS[kind.removeprefix("enum ")]
        index = item if isinstance(item, int) else names.index(str(item))
        return index if go else (names[index] if index else None)
    if kind == "Timestamp":
        return _go_timestamp(item) if go else rfc3339(item)
    if kind == "bytes" and isinstance(item, bytes):
        return base64.b64encode(item).decode()
    if kind in SCALARS:
        return item
    return encode(kind, item, go=go, strict=strict)


def _go_timestamp(moment: datetime) -> dict[str, int]:
    """``timestamppb.Timestamp`` through encoding/json: ``seconds`` and ``nanos``, each left out when 0."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    seconds = delta.days * 86400 + delta.seconds
    nanos = delta.microseconds * 1000
    return {k: v for k, v in (("seconds", seconds), ("nanos", nanos)) if v}
