import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from acmeca.crypto.keypolicy import KeyRejected, check_public_key
from acmeca.crypto.keys import (
    KeySpec,
    PublicKey,
    WrongPassword,
    generate_key,
    is_rsa,
    load_private_key,
    load_public_key_pem,
    public_key_pem,
    save_private_key,
)
from acmeca.domain.errors import Malformed


def test_saved_key_is_encrypted_and_0600(tmp_path: Path) -> None:
    key = generate_key(KeySpec())
    path = tmp_path / "k"
    old_umask = os.umask(0)
    try:
        save_private_key(path, key, b"pw")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"ENCRYPTED" in path.read_bytes()
    assert load_private_key(path, b"pw").private_numbers() == key.private_numbers()  # type: ignore[union-attr]
    with pytest.raises(WrongPassword):
        load_private_key(path, b"nope")
    with pytest.raises(WrongPassword):
        load_private_key(path, None)


@pytest.mark.parametrize(
    ("kty", "curve", "size", "expected"),
    [("EC", None, None, ec.EllipticCurvePrivateKey), ("EC", "P-384", None, ec.EllipticCurvePrivateKey),
     ("OKP", None, None, ed25519.Ed25519PrivateKey), ("RSA", None, 2048, rsa.RSAPrivateKey)],
)
def test_key_specs(kty: str, curve: str | None, size: int | None, expected: type) -> None:
    assert isinstance(generate_key(KeySpec.parse(kty, curve, size)), expected)


@pytest.mark.parametrize(
    ("kty", "curve", "size"), [("EC", "P-192", None), ("RSA", None, 1024), ("RSA", None, 2049), ("DSA", None, None),
                               ("OKP", "X25519", None)],
)
def test_bad_key_specs(kty: str, curve: str | None, size: int | None) -> None:
    with pytest.raises(Malformed):
        KeySpec.parse(kty, curve, size)


def test_key_policy() -> None:
    check_public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
    check_public_key(ed25519.Ed25519PrivateKey.generate().public_key())
    with pytest.raises(KeyRejected, match="P-256 or P-384"):
        check_public_key(ec.generate_private_key(ec.SECP521R1()).public_key())
    with pytest.raises(KeyRejected, match="too small"):
        check_public_key(rsa.generate_private_key(65537, 1024).public_key())
    with pytest.raises(KeyRejected, match="exponent"):
        check_public_key(rsa.generate_private_key(3, 2048).public_key())


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (rsa.generate_private_key(65537, 2048).public_key(), True),
        (ec.generate_private_key(ec.SECP256R1()).public_key(), False),
        (ed25519.Ed25519PrivateKey.generate().public_key(), False),
    ],
)
def test_is_rsa_decides_key_encipherment(key: PublicKey, expected: bool) -> None:
    assert is_rsa(key) is expected


def test_load_public_key_pem_reads_signing_keys_and_refuses_the_rest() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert load_public_key_pem(public_key_pem(key)) == key
    x25519_pem = X25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="unsupported public key type"):
        load_public_key_pem(x25519_pem)
    with pytest.raises(ValueError, match="deserialize"):
        load_public_key_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
