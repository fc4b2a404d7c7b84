"""EdDSA for JWS against the RFC 8037 Appendix A test vectors, and the alg each key type may use."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from acmeca.crypto.jose import EdDSA, jws_algorithm_for, okp_jwk, okp_public_key, thumbprint
from acmeca.domain.encoding import b64url_decode
from acmeca.domain.errors import BadPublicKey, Malformed

# RFC 8037 A.1, A.3, A.4
D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
SIGNING_INPUT = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
SIGNATURE = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"


def test_rfc8037_signature_and_thumbprint() -> None:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(D))
    assert EdDSA.sign(private, SIGNING_INPUT) == b64url_decode(SIGNATURE)
    public_jwk = {"kty": "OKP", "crv": "Ed25519", "x": X}
    assert thumbprint(public_jwk) == THUMBPRINT
    public = okp_public_key(public_jwk)
    assert EdDSA.verify(public, SIGNING_INPUT, b64url_decode(SIGNATURE))
    assert not EdDSA.verify(public, SIGNING_INPUT + b"x", b64url_decode(SIGNATURE))
    assert okp_jwk(private.public_key()) == public_jwk


def test_eddsa_refuses_other_key_types() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    assert not EdDSA.verify(other.public_key(), SIGNING_INPUT, b64url_decode(SIGNATURE))
    with pytest.raises(TypeError):
        EdDSA.sign(other, SIGNING_INPUT)


@pytest.mark.parametrize(
    ("jwk", "error"),
    [
        ({"kty": "OKP", "crv": "X25519", "x": X}, BadPublicKey),
        ({"kty": "OKP", "crv": "Ed448", "x": X}, BadPublicKey),
        ({"kty": "OKP", "crv": "Ed25519"}, Malformed),
        ({"kty": "OKP", "crv": "Ed25519", "x": X + "="}, Malformed),
        ({"kty": "OKP", "crv": "Ed25519", "x": X[:-2] + "+/"}, Malformed),
        ({"kty": "OKP", "crv": "Ed25519", "x": X[:-4]}, BadPublicKey),
    ],
)
def test_bad_okp_keys(jwk: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        okp_public_key(jwk)


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (rsa.generate_private_key(65537, 2048).public_key(), "RS256"),
        (ec.generate_private_key(ec.SECP256R1()).public_key(), "ES256"),
        (ec.generate_private_key(ec.SECP384R1()).public_key(), "ES384"),
        (ec.generate_private_key(ec.SECP521R1()).public_key(), "ES512"),
        (ec.generate_private_key(ec.SECP256K1()).public_key(), None),
        (ed25519.Ed25519PrivateKey.generate().public_key(), "EdDSA"),
        ("not a key", None),
    ],
)
def test_each_key_type_signs_with_one_alg(key: object, alg: str | None) -> None:
    assert jws_algorithm_for(key) == alg
