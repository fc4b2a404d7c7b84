"""EdDSA for JWS against the RFC 8037 Appendix A test vectors."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from acmeca.acme.web.jwa_eddsa import EdDSA, okp_jwk, okp_public_key
from acmeca.acme.web.jws import parse_key
from acmeca.domain.errors import BadPublicKey, Malformed

# RFC 8037 A.1, A.3, A.4
D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
SIGNING_INPUT = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
SIGNATURE = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_rfc8037_signature_and_thumbprint() -> None:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(_b64(D))
    assert EdDSA.sign(private, SIGNING_INPUT) == _b64(SIGNATURE)
    key = parse_key({"kty": "OKP", "crv": "Ed25519", "x": X})
    assert key.thumbprint == THUMBPRINT
    assert EdDSA.verify(key.public_key, SIGNING_INPUT, _b64(SIGNATURE))
    assert not EdDSA.verify(key.public_key, SIGNING_INPUT + b"x", _b64(SIGNATURE))
    assert okp_jwk(private.public_key()) == {"kty": "OKP", "crv": "Ed25519", "x": X}


@pytest.mark.parametrize(
    ("jwk", "error"),
    [
        ({"kty": "OKP", "crv": "X25519", "x": X}, BadPublicKey),
        ({"kty": "OKP", "crv": "Ed448", "x": X}, BadPublicKey),
        ({"kty": "OKP", "crv": "Ed25519"}, Malformed),
        ({"kty": "OKP", "crv": "Ed25519", "x": X + "="}, Malformed),
        ({"kty": "OKP", "crv": "Ed25519", "x": X[:-4]}, BadPublicKey),
        ({"kty": "OKP", "crv": "Ed25519", "x": X, "d": D}, Malformed),
    ],
)
def test_bad_okp_keys(jwk: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        okp_public_key(jwk) if "d" not in jwk else parse_key(jwk)
