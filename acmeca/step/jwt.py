"""Compact JWS tokens as step writes them: parse without trusting, then verify with an algorithm fixed by the key.

The algorithm is never taken from the token alone: it must be one the verifying key can produce (ES256 for a
P-256 key, EdDSA for Ed25519, RS/PS for RSA). That shuts ``alg: none`` and key-confusion tricks out before any
signature code runs.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from acmeca.domain.encoding import b64url_decode
from acmeca.domain.errors import Unauthenticated
from acmeca.domain.json_limits import loads_limited

_EC_ALGORITHMS = {"P-256": ("ES256",), "P-384": ("ES384",), "P-521": ("ES512",)}
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")


@dataclass(frozen=True)
class CompactJWS:
    """A token split into its parts; nothing in it is trusted until :func:`verify_signature` passes."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]


def _b64_json(part: str, what: str) -> dict[str, Any]:
    try:
        data = b64url_decode(part)
        value = loads_limited(data)
    except (ValueError, UnicodeDecodeError):
        raise Unauthenticated(f"invalid token: the {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise Unauthenticated(f"invalid token: the {what} is not a JSON object")
    return value


def parse_compact(raw: str) -> CompactJWS:
    """Split a compact JWS; raises Unauthenticated for anything that is not one."""
    token = raw.strip()
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise Unauthenticated("invalid token: not a compact JWS")
    header = _b64_json(parts[0], "header")
    claims = _b64_json(parts[1], "payload")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or not parts[2]:
        raise Unauthenticated("invalid token: unsigned tokens are not accepted")
    return CompactJWS(raw=token, header=header, claims=claims)


def algorithms_for(key: jwk.JWK) -> tuple[str, ...]:
    """Algorithms a public key can verify, step-ca's rule: the key decides, not the token."""
    kty = key.get("kty")
    if kty == "EC":
        return _EC_ALGORITHMS.get(str(key.get("crv")), ())
    if kty == "OKP" and key.get("crv") == "Ed25519":
        return ("EdDSA",)
    if kty == "RSA":
        return _RSA_ALGORITHMS
    return ()


class _Verifiers(threading.local):
    """One jwcrypto ``JWS`` per thread, reused for every token that thread verifies.

    ``jws.JWS()`` deep-copies jwcrypto's header registry each time it is built (about a third of a token's
    verification cost). Reuse keeps every check jwcrypto makes: ``deserialize`` replaces all the state a
    previous token left (``objects``) and ``verify`` its log, and the registry copy is never changed here.
    The object is per thread because ``deserialize`` and ``verify`` mutate it.
    """

    def __init__(self) -> None:
        self.jws = jws.JWS()


_VERIFIERS = _Verifiers()


def verify_signature(token: CompactJWS, key: jwk.JWK) -> None:
    """Verify ``token`` with ``key``; raises Unauthenticated on a wrong algorithm or a bad signature."""
    alg = str(token.header.get("alg"))
    allowed = algorithms_for(key)
    declared = key.get("alg")
    if declared:
        allowed = tuple(a for a in allowed if a == declared)
    if alg not in allowed:
        raise Unauthenticated(f"invalid token: algorithm {alg} does not match the key")
    try:
        verifier = _VERIFIERS.jws
        verifier.deserialize(token.raw)
        verifier.verify(key, alg=alg)
    except (JWException, ValueError, TypeError):
        raise Unauthenticated("invalid token: the signature does not verify") from None


def public_jwk(document: dict[str, Any]) -> jwk.JWK:
    """A public JWK from a ca.json ``key`` object; private members are dropped.

    jwcrypto raises KeyError for a missing or unknown ``kty`` (on export, not on construction).
    """
    try:
        key = jwk.JWK(**document)
        return jwk.JWK(**json.loads(key.export_public()))
    except (JWException, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"invalid JWK: {exc}") from None


def sign_compact(claims: dict[str, Any], key: jwk.JWK, header: dict[str, Any]) -> str:
    """Sign ``claims`` as a compact JWS with ``header`` (which names the alg); the CLI's side of the wire."""
    token = jws.JWS(json.dumps(claims, separators=(",", ":")).encode())
    token.add_signature(key, alg=header["alg"], protected=json.dumps(header, separators=(",", ":")))
    return str(token.serialize(compact=True))
