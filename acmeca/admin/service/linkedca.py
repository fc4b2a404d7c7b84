"""linkedca ``Provisioner`` JSON (admin API, protojson lowerCamel) <-> ca.json provisioner objects.

The catalog and every verifier read ca.json-shaped documents; the admin API speaks linkedca. Converting at
this one boundary keeps the rest of the code to one shape. Bytes fields are standard base64, as protojson
writes them. Bodies are checked against linkedca's field tables first (``linkedca_schema``), and what goes
out is rendered through them, so step's strict protojson decoder reads every answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from acmeca.admin.service import linkedca_schema as schema
from acmeca.domain.durations import format_duration, parse_duration
from acmeca.domain.errors import Malformed, NotImplementedYet
from acmeca.domain.json_limits import loads_limited

AUTHORITY_ID = "00000000-0000-0000-0000-000000000000"

TYPES = {"JWK": "JWK", "ACME": "ACME", "X5C": "X5C", "OIDC": "OIDC", "K8SSA": "K8sSA"}
CHALLENGES = {
    "HTTP_01": "http-01", "DNS_01": "dns-01", "TLS_ALPN_01": "tls-alpn-01", "DEVICE_ATTEST_01": "device-attest-01",
}
_OIDC_FIELDS = {
    "clientId": "clientID", "clientSecret": "clientSecret", "configurationEndpoint": "configurationEndpoint",
    "admins": "admins", "domains": "domains", "groups": "groups", "listenAddress": "listenAddress",
    "tenantId": "tenantID", "scopes": "scopes", "authParams": "authParams",
}
_DURATIONS = (("min", "minTLSCertDuration"), ("max", "maxTLSCertDuration"), ("default", "defaultTLSCertDuration"))
_FLAGS = ("disableRenewal", "allowRenewalAfterExpiry", "disableSmallstepExtensions")
_ACME_TEXT = {"termsOfService": "termsOfService", "website": "website", "caaIdentities": "caaIdentities"}
# linkedca fields acmeca cannot honour yet: refused when set, never stored and ignored
_UNSUPPORTED = {
    "webhooks": "provisioner webhooks", "attestationFormats": "ACME device attestation formats",
    "attestationRoots": "ACME device attestation roots",
}


def _b64decode(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise Malformed(f"{field} must be a base64 string")
    try:
        altchars = b"-_" if "-" in value or "_" in value else None
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=altchars, validate=True)
    except (ValueError, binascii.Error):
        raise Malformed(f"{field} is not valid base64") from None


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def provisioner_type(value: Any) -> str:
    """The ca.json type name for a linkedca (upper case) or ca.json type string."""
    if not isinstance(value, str) or value.upper() not in TYPES:
        raise Malformed(f"provisioner type {value!r} is not supported (use JWK, ACME, X5C, OIDC or K8SSA)")
    return TYPES[value.upper()]


def _details_to_config(kind: str, details: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "JWK":
        key = _b64decode(details.get("publicKey", ""), "details.JWK.publicKey")
        try:
            public = loads_limited(key)
        except ValueError:
            raise Malformed("details.JWK.publicKey is not a JSON web key") from None
        out: dict[str, Any] = {"key": public}
        if details.get("encryptedPrivateKey"):
            out["encryptedKey"] = _b64decode(details["encryptedPrivateKey"], "details.JWK.encryptedPrivateKey").decode()
        return out
    if kind == "ACME":
        challenges = [CHALLENGES.get(str(c).upper(), str(c).lower()) for c in details.get("challenges") or ()]
        out = {"forceCN": bool(details.get("forceCn", False)), "requireEAB": bool(details.get("requireEab", False))}
        if challenges:
            out["challenges"] = challenges
        out.update({config: details[linked] for linked, config in _ACME_TEXT.items() if details.get(linked)})
        return out
    if kind == "X5C":
        roots = b"".join(_b64decode(r, "details.X5C.roots") for r in details.get("roots") or ())
        return {"roots": _b64(roots)} if roots else {}
    if kind == "K8sSA":
        keys = b"".join(_b64decode(k, "details.K8sSA.publicKeys") for k in details.get("publicKeys") or ())
        return {"publicKeys": _b64(keys)} if keys else {}
    return {config: details[linked] for linked, config in _OIDC_FIELDS.items() if details.get(linked) not in (None, "")}


def _claims_to_config(claims: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    durations = ((claims.get("x509") or {}).get("durations")) or {}
    for linked, config in _DURATIONS:
        if durations.get(linked):
            parse_duration(str(durations[linked]))
            out[config] = str(durations[linked])
    for flag in _FLAGS:
        if claims.get(flag):
            out[flag] = True
    return out


def _refuse_unsupported(body: Mapping[str, Any], details: Mapping[str, Any]) -> None:
    """Templates, webhooks and attestation are linkedca fields acmeca cannot honour yet: say so instead of
    storing and ignoring them (an empty value is the same as none)."""
    for key in ("x509Template", "sshTemplate"):
        template = body.get(key) or {}
        if template.get("template") or template.get("data"):
            raise NotImplementedYet(f"custom {key} is not supported yet; remove it to create the provisioner")
    for key, what in _UNSUPPORTED.items():
        if body.get(key) or details.get(key):
            raise NotImplementedYet(f"{what} ({key}) are not supported yet; remove them to create the provisioner")


def to_config(body: Mapping[str, Any]) -> dict[str, Any]:
    """A ca.json provisioner object from a linkedca one; raises Malformed / NotImplementedYet."""
    body = schema.decode("Provisioner", body)
    kind = provisioner_type(body.get("type"))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Malformed("provisioner name cannot be empty")
    details = (body.get("details") or {}).get(kind) or {}
    _refuse_unsupported(body, details)
    document: dict[str, Any] = {"type": kind, "name": name, **_details_to_config(kind, details)}
    if config_claims := _claims_to_config(body.get("claims") or {}):
        document["claims"] = config_claims
    return document


def _details_from_config(kind: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "JWK":
        out = {"publicKey": _b64(json.dumps(doc.get("key") or {}, separators=(",", ":")))}
        if doc.get("encryptedKey"):
            out["encryptedPrivateKey"] = _b64(str(doc["encryptedKey"]))
        return out
    if kind == "ACME":
        reverse = {v: k for k, v in CHALLENGES.items()}
        return {
            "forceCn": bool(doc.get("forceCN", False)), "requireEab": bool(doc.get("requireEAB", False)),
            "challenges": [reverse[c] for c in doc.get("challenges") or () if c in reverse],
            **{linked: doc[config] for linked, config in _ACME_TEXT.items() if config in doc},
        }
    if kind == "X5C":
        return {"roots": [doc["roots"]] if doc.get("roots") else []}
    if kind == "K8sSA":
        return {"publicKeys": [doc["publicKeys"]] if doc.get("publicKeys") else []}
    return {linked: doc[config] for linked, config in _OIDC_FIELDS.items() if config in doc}


def _claims_from_config(claims: Mapping[str, Any]) -> dict[str, Any]:
    durations = {linked: claims[config] for linked, config in _DURATIONS if claims.get(config)}
    return {"x509": {"enabled": True, "durations": durations}, **{f: bool(claims.get(f)) for f in _FLAGS}}


def from_config(
    entry_id: str, doc: Mapping[str, Any], *, created_at: str | datetime | None = None,
    policy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The linkedca JSON of a stored (or ca.json) provisioner, as protojson writes it: a provisioner from
    ca.json has no creation time, so it has no ``createdAt`` (protojson refuses an empty one)."""
    kind = provisioner_type(doc.get("type"))
    if isinstance(created_at, str):
        created_at = schema.parse_timestamp(created_at) if created_at else None
    linked: dict[str, Any] = {
        "id": entry_id, "authorityId": AUTHORITY_ID, "type": kind.upper(), "name": doc.get("name"),
        "details": {kind: _details_from_config(kind, doc)}, "claims": _claims_from_config(doc.get("claims") or {}),
        "createdAt": created_at, "policy": schema.encode("Policy", policy, strict=False) if policy else None,
    }
    options = doc.get("options") or {}
    for key in ("x509Template", "sshTemplate"):  # linkedca Templates the CLI keeps in options (refused on write)
        if isinstance(options.get(key), Mapping):
            linked[key] = {k: v for k, v in options[key].items() if k in ("template", "data")}
    return schema.encode("Provisioner", linked)


__all__ = ["format_duration", "from_config", "provisioner_type", "to_config"]
