"""JWK thumbprints and the provisioner key JWE, interchangeable with step-ca's files.

step-ca stores a JWK provisioner's private key as a compact JWE: PBES2-HS256+A128KW key wrapping, A256GCM
content encryption, ``cty: jwk+json`` and 600000 PBKDF2 iterations. jwcrypto refuses p2c above its own
default cap, so :data:`MAX_PBES2_COUNT` raises it in this one place: step-ca keys written with any count up to
one million must open.
"""

from __future__ import annotations

import json
from typing import Any

from jwcrypto import jwa, jwe, jwk
from jwcrypto.common import JWException

DEFAULT_PBES2_COUNT = 600_000
MAX_PBES2_COUNT = 1_000_000

jwa.default_max_pbkdf2_iterations = MAX_PBES2_COUNT


class KeyDecryptionFailed(Exception):
    """Wrong password or a damaged encrypted key."""


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url without padding."""
    return str(jwk.JWK(**public_jwk).thumbprint())


def generate_jwk(kty: str = "EC", curve: str = "P-256") -> dict[str, Any]:
    """A private JWK with step-ca's defaults (use sig, alg ES256, kid = thumbprint)."""
    key = jwk.JWK.generate(kty=kty, crv=curve) if kty in ("EC", "OKP") else jwk.JWK.generate(kty=kty, size=2048)
    private: dict[str, Any] = json.loads(key.export_private())
    alg = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "Ed25519": "EdDSA"}.get(curve, "RS256")
    private.update({"use": "sig", "alg": alg, "kid": thumbprint(public_part(private))})
    return private


def public_part(private_jwk: dict[str, Any]) -> dict[str, Any]:
    key = jwk.JWK(**{k: v for k, v in private_jwk.items()})
    public: dict[str, Any] = json.loads(key.export_public())
    for member in ("use", "alg", "kid"):
        if member in private_jwk:
            public[member] = private_jwk[member]
    return public


def encrypt_private_jwk(private_jwk: dict[str, Any], password: bytes, *, count: int = DEFAULT_PBES2_COUNT) -> str:
    header = {"alg": "PBES2-HS256+A128KW", "enc": "A256GCM", "cty": "jwk+json", "p2c": count}
    token = jwe.JWE(json.dumps(private_jwk).encode(), protected=json.dumps(header))
    token.add_recipient(jwk.JWK.from_password(password.decode("utf-8", "surrogateescape")))
    return str(token.serialize(compact=True))


def decrypt_private_jwk(compact: str, password: bytes) -> dict[str, Any]:
    token = jwe.JWE()
    try:
        token.deserialize(compact, key=jwk.JWK.from_password(password.decode("utf-8", "surrogateescape")))
    except (JWException, ValueError) as exc:
        raise KeyDecryptionFailed("cannot decrypt the provisioner key: wrong password or damaged key") from exc
    try:
        value: dict[str, Any] = json.loads(token.payload)
    except ValueError as exc:
        raise KeyDecryptionFailed("the decrypted provisioner key is not a JWK") from exc
    return value
