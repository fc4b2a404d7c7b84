"""linkedca ``Provisioner`` JSON (admin API, protojson lowerCamel) <-> ca.json provisioner objects.

The catalog and every verifier read ca.json-shaped documents; the admin API speaks linkedca. Converting at
this one boundary keeps the rest of the code to one shape. Bytes fields are standard base64, as protojson
writes them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from acmeca.domain.durations import format_duration, parse_duration
from acmeca.domain.errors import Malformed, NotImplementedYet

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
            public = json.loads(key)
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


def _refuse_templates(body: Mapping[str, Any]) -> None:
    """Templates are stored as given, but a non-empty one cannot be honoured yet: say so instead of ignoring it."""
    for key in ("x509Template", "sshTemplate"):
        template = body.get(key) or {}
        if isinstance(template, Mapping) and (template.get("template") or template.get("data")):
            raise NotImplementedYet(f"custom {key} is not supported yet; remove it to create the provisioner")


def to_config(body: Mapping[str, Any]) -> dict[str, Any]:
    """A ca.json provisioner object from a linkedca one; raises Malformed / NotImplementedYet."""
    kind = provisioner_type(body.get("type"))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Malformed("provisioner name cannot be empty")
    _refuse_templates(body)
    details_root = body.get("details")
    details_root = {} if details_root is None else details_root
    if not isinstance(details_root, Mapping):
        raise Malformed("details must be an object")
    details = details_root.get(kind) or details_root.get(kind.upper()) or {}
    if not isinstance(details, Mapping):
        raise Malformed(f"details.{kind} must be an object")
    document: dict[str, Any] = {"type": kind, "name": name, **_details_to_config(kind, details)}
    claims = body.get("claims") or {}
    if not isinstance(claims, Mapping):
        raise Malformed("claims must be an object")
    if config_claims := _claims_to_config(claims):
        document["claims"] = config_claims
    for key in ("x509Template", "sshTemplate"):
        if body.get(key):
            document.setdefault("options", {})[key] = body[key]
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
            "challenges": [reverse.get(c, c) for c in doc.get("challenges") or ()],
        }
    if kind == "X5C":
        return {"roots": [doc["roots"]] if doc.get("roots") else []}
    if kind == "K8sSA":
        return {"publicKeys": [doc["publicKeys"]] if doc.get("publicKeys") else []}
    return {linked: doc[config] for linked, config in _OIDC_FIELDS.items() if config in doc}


def from_config(
    entry_id: str, doc: Mapping[str, Any], *, created_at: str = "", policy: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The linkedca JSON of a stored (or ca.json) provisioner."""
    kind = provisioner_type(doc.get("type"))
    claims = doc.get("claims") or {}
    durations = {linked: claims[config] for linked, config in _DURATIONS if claims.get(config)}
    out: dict[str, Any] = {
        "id": entry_id, "authorityId": "00000000-0000-0000-0000-000000000000", "type": kind.upper(),
        "name": doc.get("name"), "details": {kind: _details_from_config(kind, doc)},
        "claims": {"x509": {"enabled": True, "durations": durations}, **{f: bool(claims.get(f)) for f in _FLAGS}},
        "createdAt": created_at,
    }
    for key in ("x509Template", "sshTemplate"):
        if (doc.get("options") or {}).get(key):
            out[key] = doc["options"][key]
    if policy:
        out["policy"] = policy
    return out


__all__ = ["format_duration", "from_config", "provisioner_type", "to_config"]
