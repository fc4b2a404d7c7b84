import base64
import json

import pytest
from jwcrypto import jwe, jwk

from acmeca.crypto.jose import (
    KeyDecryptionFailed,
    decrypt_private_jwk,
    encrypt_private_jwk,
    generate_jwk,
    public_part,
    thumbprint,
)


def _header(compact: str) -> dict[str, object]:
    head = compact.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


def test_encrypted_key_has_step_ca_header_and_round_trips() -> None:
    private = generate_jwk()
    compact = encrypt_private_jwk(private, b"pass")
    header = _header(compact)
    assert header["alg"] == "PBES2-HS256+A128KW"
    assert header["enc"] == "A256GCM"
    assert header["cty"] == "jwk+json"
    assert header["p2c"] == 600_000
    assert len(base64.urlsafe_b64decode(str(header["p2s"]) + "==")) == 16
    assert decrypt_private_jwk(compact, b"pass") == private


def test_a_million_iterations_still_decrypt() -> None:
    private = generate_jwk()
    assert decrypt_private_jwk(encrypt_private_jwk(private, b"pw", count=1_000_000), b"pw") == private


def test_key_written_by_another_jwe_implementation_decrypts() -> None:
    """Build the JWE with jwcrypto's primitives directly, as step-ca's go-jose would, with p2c 100000."""
    private = generate_jwk()
    token = jwe.JWE(
        json.dumps(private).encode(),
        protected=json.dumps(
            {"alg": "PBES2-HS256+A128KW", "enc": "A256GCM", "cty": "jwk+json", "p2c": 100_000}
        ),
    )
    token.add_recipient(jwk.JWK.from_password("old"))
    assert decrypt_private_jwk(token.serialize(compact=True), b"old") == private


def test_wrong_password_is_a_clear_error() -> None:
    compact = encrypt_private_jwk(generate_jwk(), b"right")
    with pytest.raises(KeyDecryptionFailed, match="wrong password"):
        decrypt_private_jwk(compact, b"wrong")


def test_kid_is_the_rfc7638_thumbprint_and_public_part_has_no_d() -> None:
    private = generate_jwk()
    public = public_part(private)
    assert "d" not in public
    assert public["kid"] == thumbprint(public) == private["kid"]
    assert public["alg"] == "ES256"
    assert public["use"] == "sig"
