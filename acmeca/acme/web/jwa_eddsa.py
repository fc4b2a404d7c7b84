"""EdDSA (Ed25519) for JWS, which josepy 2.x lacks: a small JWA plus OKP JWK parsing on cryptography.

RFC 8037 defines ``alg: EdDSA`` with ``kty: OKP``, ``crv: Ed25519``; the signature is the raw 64-byte Ed25519
signature over the JWS signing input. RFC 8555 says servers SHOULD accept it, so we do rather than refuse.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from josepy.jwa import JWASignature

from acmeca.domain.errors import BadPublicKey, Malformed


def _b64decode(value: str) -> bytes:
    if "=" in value:
        raise Malformed("base64url values must not be padded")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise Malformed("invalid base64url value") from None


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
    raw = _b64decode(x)
    if len(raw) != 32:
        raise BadPublicKey("Ed25519 public keys are 32 bytes")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


def okp_jwk(key: ed25519.Ed25519PublicKey) -> dict[str, str]:
    """The public JWK of an Ed25519 key (for clients and tests)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
