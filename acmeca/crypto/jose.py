"""JWK thumbprints, the provisioner key JWE (interchangeable with step-ca's files) and EdDSA for JWS.

step-ca stores a JWK provisioner's private key as a compact JWE: PBES2-HS256+A128KW key wrapping, A256GCM
content encryption, ``cty: jwk+json`` and 600000 PBKDF2 iterations. jwcrypto refuses p2c above its own
default cap, so :data:`MAX_PBES2_COUNT` raises it in this one place: step-ca keys written with any count up to
one million must open.

josepy 2.x has no EdDSA/OKP, yet RFC 8555 says servers SHOULD accept Ed25519 account keys (RFC 8037:
``alg: EdDSA``, ``kty: OKP``, ``crv: Ed25519``, the raw 64-byte signature over the JWS signing input). The
small JWA lives here rather than in the ACME edge because it needs ``cryptography.hazmat``, which only
``acmeca.crypto`` imports.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from josepy.jwa import JWASignature
from jwcrypto import jwa, jwe, jwk
from jwcrypto.common import JWException

from acmeca.domain.encoding import b64url_decode, b64url_encode
from acmeca.domain.errors import BadPublicKey, Malformed

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


class _EdDSA(JWASignature):
    """The ``EdDSA`` JWS algorithm over Ed25519 keys."""

    def sign(self, key: Any, msg: bytes) -> bytes:
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise TypeError("EdDSA signs with an Ed25519 private key")
        return key.sign(msg)

    def verify(self, key: Any, msg: bytes, sig: bytes) -> bool:
        if not isinstance(key, ed25519.Ed25519PublicKey):
            return False
        try:
            key.verify(sig, msg)
        except InvalidSignature:
            return False
        return True


EdDSA = JWASignature.register(_EdDSA("EdDSA"))


def okp_public_key(jwk: dict[str, Any]) -> ed25519.Ed25519PublicKey:
    """An Ed25519 public key from an OKP JWK; other OKP curves (X25519, Ed448) are refused."""
    if jwk.get("crv") != "Ed25519":
        raise BadPublicKey(f"OKP curve {jwk.get('crv')!r} is not supported (use Ed25519)")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise Malformed("OKP JWK has no x member")
    if "=" in x:
        raise Malformed("base64url values must not be padded")
    try:
        raw = b64url_decode(x)
    except ValueError:
        raise Malformed("invalid base64url value") from None
    if len(raw) != 32:
        raise BadPublicKey("Ed25519 public keys are 32 bytes")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


def okp_jwk(key: ed25519.Ed25519PublicKey) -> dict[str, str]:
    """The public JWK of an Ed25519 key (for clients and tests)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}


def jws_algorithm_for(key: object) -> str | None:
    """The one JWS ``alg`` a public key may sign with (RS256, ES256/384/512 by curve, EdDSA), else None.

    Tying the alg to the key stops a client from presenting, say, a P-384 key with ES256.
    """
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}.get(key.curve.name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    return None
