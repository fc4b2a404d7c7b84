"""Which public keys may appear in a certificate or sign an ACME request (Boulder goodkey's role)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from acmeca.crypto.keys import PublicKey

ALLOWED_CURVES = ("secp256r1", "secp384r1")
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192


class KeyRejected(Exception):
    """The key fails policy; the message says why in terms a client can act on."""


def check_public_key(key: object) -> PublicKey:
    """Return the key if it passes policy; raise KeyRejected otherwise."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        if key.key_size < MIN_RSA_BITS:
            raise KeyRejected(f"RSA key of {key.key_size} bits is too small (minimum {MIN_RSA_BITS})")
        if key.key_size > MAX_RSA_BITS or key.key_size % 8:
            raise KeyRejected(f"RSA key size {key.key_size} is not allowed")
        if numbers.e != 65537:
            raise KeyRejected("RSA public exponent must be 65537")
        if numbers.n % 2 == 0:
            raise KeyRejected("RSA modulus is even")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ALLOWED_CURVES:
            raise KeyRejected(f"ECDSA curve {key.curve.name} is not allowed (use P-256 or P-384)")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise KeyRejected(f"key type {type(key).__name__} is not allowed (use RSA, ECDSA P-256/P-384 or Ed25519)")
