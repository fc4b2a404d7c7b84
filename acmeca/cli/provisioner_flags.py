"""Build and edit ca.json provisioner objects from ``acmeca provisioner add|update`` flags.

One function per concern: type-specific fields, claims, and the ``--remove-*`` lists of update. The result
is always a ca.json-shaped object; the admin API path converts it to linkedca JSON at the last moment.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file
from acmeca.crypto.jose import encrypt_private_jwk, generate_jwk, public_part

CHALLENGES = ("http-01", "dns-01", "tls-alpn-01", "device-attest-01")
# flag dest -> (ca.json key, remove-flag dest) for list-valued OIDC fields
_OIDC_LISTS = {
    "domain": ("domains", "remove_domain"), "group": ("groups", "remove_group"), "admin": ("admins", "remove_admin"),
    "scope": ("scopes", "remove_scope"), "auth_param": ("authParams", "remove_auth_param"),
}
_OIDC_TEXT = {
    "client_id": "clientID", "client_secret": "clientSecret", "configuration_endpoint": "configurationEndpoint",
    "tenant_id": "tenantID", "listen_address": "listenAddress",
}
_CLAIMS = {"x509_min_dur": "minTLSCertDuration", "x509_max_dur": "maxTLSCertDuration",
           "x509_default_dur": "defaultTLSCertDuration"}
_FLAGS = {"disable_renewal": "disableRenewal", "allow_renewal_after_expiry": "allowRenewalAfterExpiry",
          "disable_smallstep_extensions": "disableSmallstepExtensions"}


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CLIError(f"cannot read {what} {path}: {exc.strerror}") from None


def _jwk_fields(args: argparse.Namespace, document: dict[str, Any], creating: bool) -> None:
    if args.public_key:
        try:
            key = json.loads(_read(args.public_key, "public key"))
        except ValueError:
            raise CLIError(f"{args.public_key} is not a JSON web key") from None
        document["key"] = public_part(key)
        if args.private_key:
            private = json.loads(_read(args.private_key, "private key"))
            document["encryptedKey"] = encrypt_private_jwk(private, _password(args))
        elif "d" in key:
            document["encryptedKey"] = encrypt_private_jwk(key, _password(args))
    elif creating or args.create:
        private = generate_jwk("EC", "P-256")
        document["key"] = public_part(private)
        document["encryptedKey"] = encrypt_private_jwk(private, _password(args))


def _password(args: argparse.Namespace) -> bytes:
    if not args.password_file:
        raise CLIError("--password-file is required to encrypt the provisioner's private key")
    return read_password_file(args.password_file)


def _merge_list(document: dict[str, Any], key: str, add: list[str] | None, remove: list[str] | None) -> None:
    values = [v for v in document.get(key) or [] if v not in (remove or [])]
    values.extend(v for v in add or [] if v not in values)
    if values:
        document[key] = values
    else:
        document.pop(key, None)


def _acme_fields(args: argparse.Namespace, document: dict[str, Any]) -> None:
    for challenge in (args.challenge or []) + (getattr(args, "remove_challenge", None) or []):
        if challenge not in CHALLENGES:
            raise CLIError(f"challenge {challenge!r} is not one of {', '.join(CHALLENGES)}")
    _merge_list(document, "challenges", args.challenge, getattr(args, "remove_challenge", None))
    if args.force_cn is not None:
        document["forceCN"] = args.force_cn
    if args.require_eab is not None:
        document["requireEAB"] = args.require_eab


def _oidc_fields(args: argparse.Namespace, document: dict[str, Any]) -> None:
    for dest, key in _OIDC_TEXT.items():
        if getattr(args, dest) is not None:
            document[key] = getattr(args, dest)
    for dest, (key, remove) in _OIDC_LISTS.items():
        _merge_list(document, key, getattr(args, dest), getattr(args, remove, None))


def _pem_files(paths: list[str] | None, what: str) -> str | None:
    if not paths:
        return None
    return base64.b64encode(b"".join(_read(p, what) for p in paths)).decode()


def _claims(args: argparse.Namespace, document: dict[str, Any]) -> None:
    claims = dict(document.get("claims") or {})
    for dest, key in _CLAIMS.items():
        if getattr(args, dest):
            claims[key] = getattr(args, dest)
    for dest, key in _FLAGS.items():
        if getattr(args, dest) is not None:
            claims[key] = getattr(args, dest)
    if claims:
        document["claims"] = claims


def _templates(args: argparse.Namespace, document: dict[str, Any]) -> None:
    if args.x509_template:
        template = base64.b64encode(_read(args.x509_template, "template")).decode()
        data = base64.b64encode(_read(args.x509_template_data, "template data")).decode() \
            if args.x509_template_data else ""
        document.setdefault("options", {})["x509Template"] = {"template": template, "data": data}


def build_document(args: argparse.Namespace, existing: dict[str, Any] | None) -> dict[str, Any]:
    """A new (``existing`` None) or updated ca.json provisioner object."""
    creating = existing is None
    document: dict[str, Any] = dict(existing or {"type": canonical_type(args.type), "name": args.name})
    kind = document["type"]
    if kind == "JWK":
        _jwk_fields(args, document, creating)
    elif kind == "ACME":
        _acme_fields(args, document)
    elif kind == "OIDC":
        _oidc_fields(args, document)
    elif kind in ("X5C", "K8sSA"):
        files = args.x5c_roots if kind == "X5C" else ([args.public_key] if args.public_key else None)
        if pem := _pem_files(files, "X5C roots" if kind == "X5C" else "public key"):
            document["roots" if kind == "X5C" else "publicKeys"] = pem
    _claims(args, document)
    _templates(args, document)
    return document


def canonical_type(value: str) -> str:
    names = {"JWK": "JWK", "ACME": "ACME", "X5C": "X5C", "OIDC": "OIDC", "K8SSA": "K8sSA"}
    found = names.get((value or "JWK").upper())
    if found is None:
        raise CLIError(f"provisioner type {value!r} is not supported (use JWK, ACME, X5C, OIDC or K8SSA)")
    return found
