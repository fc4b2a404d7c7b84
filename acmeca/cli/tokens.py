"""Minting tokens the way ``step ca token`` does (stepca.md §2.1, §2.8), for the CLI and the renew daemon.

A JWK token needs the provisioner's private key: from ``--key``, or the provisioner's ``encryptedKey``
(downloaded, or read from ca.json with ``--offline``) decrypted with the provisioner password.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from jwcrypto import jwk

from acmeca.cli.client import CAClient
from acmeca.cli.errors import CLIError
from acmeca.cli.files import flag_or_default, read_password_file
from acmeca.cli.passwords import prompt_password
from acmeca.config import acmeca_path, load_config
from acmeca.crypto import certs
from acmeca.crypto.jose import KeyDecryptionFailed, decrypt_private_jwk
from acmeca.crypto.keys import PrivateKey
from acmeca.domain.durations import parse_time_or_duration
from acmeca.domain.encoding import b64url_encode
from acmeca.domain.errors import Malformed
from acmeca.step.jwt import algorithms_for, sign_compact

DEFAULT_LIFETIME = timedelta(minutes=5)
MIN_LIFETIME = timedelta(seconds=10)
MAX_LIFETIME = timedelta(hours=1)
MAX_NOT_BEFORE = timedelta(minutes=30)
RENEW_ISSUER = "step-ca-client/1.0"


@dataclass(frozen=True)
class TokenWindow:
    not_before: datetime
    expires: datetime


def token_window(not_before: str | None, not_after: str | None, *, now: datetime) -> TokenWindow:
    """step's token lifetime rules: default 5m; custom windows 10s..1h, starting at most 30m ahead."""
    try:
        start = parse_time_or_duration(not_before, now=now) if not_before else now
        end = parse_time_or_duration(not_after, now=start) if not_after else start + DEFAULT_LIFETIME
    except Malformed as exc:
        raise CLIError(exc.detail) from None
    except OverflowError:
        raise CLIError("--not-before/--not-after is out of range") from None
    if start > now + MAX_NOT_BEFORE:
        raise CLIError("--not-before cannot be more than 30 minutes in the future")
    if not MIN_LIFETIME <= end - start <= MAX_LIFETIME:
        raise CLIError("the token must be valid for at least 10 seconds and at most 1 hour")
    return TokenWindow(start, end)


def _signing_alg(key: jwk.JWK) -> str:
    declared = key.get("alg")
    allowed = algorithms_for(key)
    if declared in allowed:
        return str(declared)
    if not allowed:
        raise CLIError("the provisioner key type cannot sign tokens")
    return allowed[0]


def jwk_token(
    subject: str, *, issuer: str, audience: str, key: jwk.JWK, window: TokenWindow,
    sans: list[str] | None = None, root_fingerprint: str | None = None, cnf: str | None = None,
) -> str:
    """A JWK provisioner OTT: header alg/kid/typ, claims iss/aud/sub/(sans)/nbf/iat/exp/jti/(sha)/(cnf)."""
    claims: dict[str, Any] = {
        "iss": issuer, "aud": audience, "sub": subject,
        "nbf": int(window.not_before.timestamp()), "iat": int(datetime.now(UTC).timestamp()),
        "exp": int(window.expires.timestamp()), "jti": secrets.token_hex(32),
    }
    if sans is not None:
        claims["sans"] = sans
    if root_fingerprint:
        claims["sha"] = root_fingerprint
    if cnf:
        claims["cnf"] = {"x5rt#S256": cnf}
    kid = key.get("kid") or key.thumbprint()
    return sign_compact(claims, key, {"alg": _signing_alg(key), "kid": kid, "typ": "JWT"})


def renew_token(chain: list[x509.Certificate], key: PrivateKey, *, audience: str) -> str:
    """A §2.8 renew token: signed by the certificate's own key, the chain in ``x5cInsecure``."""
    private = jwk.JWK.from_pyca(key)
    now = datetime.now(UTC)
    claims = {
        "iss": RENEW_ISSUER, "sub": certs.common_name(chain[0]) or "", "aud": audience,
        "nbf": int(now.timestamp()), "iat": int(now.timestamp()), "exp": int((now + DEFAULT_LIFETIME).timestamp()),
    }
    header = {
        "alg": _signing_alg(private), "typ": "JWT",
        "x5cInsecure": [base64.b64encode(certs.to_der(c)).decode() for c in chain],
    }
    return sign_compact(claims, private, header)


def ca_json_path(args: argparse.Namespace) -> Path:
    value = flag_or_default(getattr(args, "ca_config", None), "ca-config")
    return Path(value) if value else acmeca_path() / "config" / "ca.json"


async def provisioner_documents(args: argparse.Namespace, client: CAClient | None) -> list[dict[str, Any]]:
    """Every provisioner: from ca.json with ``--offline``, else all pages of GET /provisioners."""
    if getattr(args, "offline", False) or client is None:
        config = load_config(ca_json_path(args))
        return [dict(p.document) for p in config.authority.provisioners]
    found: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(1000):
        page = await client.json("GET", f"/provisioners?limit=100&cursor={cursor}", expect=(200,))
        found.extend(page.get("provisioners") or [])
        cursor = page.get("nextCursor") or ""
        if not cursor:
            break
    return found


def choose_jwk_provisioner(documents: list[dict[str, Any]], name: str | None, kid: str | None) -> dict[str, Any]:
    candidates = [d for d in documents if str(d.get("type", "")).upper() == "JWK"]
    if name:
        candidates = [d for d in candidates if d.get("name") == name]
    if kid:
        candidates = [d for d in candidates if (d.get("key") or {}).get("kid") == kid]
    if not candidates:
        raise CLIError(f"cannot find a JWK provisioner{f' named {name!r}' if name else ''}")
    if len(candidates) > 1:
        names = ", ".join(str(d.get("name")) for d in candidates)
        raise CLIError(f"there are several JWK provisioners ({names}): choose one with --provisioner")
    return candidates[0]


async def provisioner_private_key(
    args: argparse.Namespace, client: CAClient | None, provisioner: dict[str, Any]
) -> jwk.JWK:
    """``--key`` if given, else the provisioner's encryptedKey decrypted with the provisioner password."""
    if getattr(args, "key", None):
        try:
            return jwk.JWK(**json.loads(Path(args.key).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise CLIError(f"cannot read the private JWK {args.key}: {exc}") from None
    encrypted = provisioner.get("encryptedKey")
    kid = (provisioner.get("key") or {}).get("kid")
    if not encrypted and client is not None and kid:
        encrypted = (await client.json("GET", f"/provisioners/{kid}/encrypted-key", expect=(200,))).get("key")
    if not encrypted:
        raise CLIError(f"provisioner {provisioner.get('name')!r} has no encrypted key: pass --key")
    password_file = getattr(args, "provisioner_password_file", None) or getattr(args, "password_file", None)
    if password_file:
        password = read_password_file(password_file)
    else:
        password = prompt_password(
            "Please enter the password to decrypt the provisioner key: ",
            what=f"the password of provisioner {provisioner.get('name')!r}",
            flag=getattr(args, "password_flag", None) or "--provisioner-password-file",
        )
    try:
        return jwk.JWK(**decrypt_private_jwk(str(encrypted), password))
    except KeyDecryptionFailed as exc:
        raise CLIError(str(exc)) from None


def root_fingerprint(args: argparse.Namespace) -> str | None:
    root = flag_or_default(getattr(args, "root", None), "root")
    if not root:
        return flag_or_default(None, "fingerprint")
    try:
        return certs.sha256_fingerprint(certs.load_certificate_file(Path(root)))
    except (OSError, ValueError):
        return None


def csr_fingerprint(der: bytes) -> str:
    return b64url_encode(hashlib.sha256(der).digest())
