"""JWS parsing: base64url fields without padding (RFC 7515 §2), each refusal naming the field; public keys only."""

import pytest

from acmeca.acme.web.jws import b64decode, parse_key
from acmeca.domain.errors import Malformed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (7, "signature must be a base64url string"),
        ("AA==", "signature must be base64url without padding"),
        ("-_+/", "signature is not valid base64url"),  # the standard alphabet, once decoded silently
        ("AB CD", "signature is not valid base64url"),
        ("A", "signature is not valid base64url"),
    ],
)
def test_b64decode_refusals_name_the_field(value: object, message: str) -> None:
    with pytest.raises(Malformed, match=message):
        b64decode(value, "signature")


def test_b64decode_accepts_unpadded_base64url() -> None:
    assert b64decode("-_8", "signature") == b"\xfb\xff"


def test_parse_key_refuses_private_okp_members() -> None:
    x, d = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    with pytest.raises(Malformed, match="public key only"):
        parse_key({"kty": "OKP", "crv": "Ed25519", "x": x, "d": d})


def test_parse_key_reads_okp_keys_with_their_rfc8037_thumbprint() -> None:
    key = parse_key({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
    assert key.thumbprint == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert key.jwk == {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
