"""The JWS fields are base64url without padding (RFC 7515 §2): each refusal names the field."""

import pytest

from acmeca.acme.web.jws import b64decode
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
