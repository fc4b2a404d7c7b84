from datetime import UTC, datetime, timedelta, timezone

import pytest

from acmeca.domain.encoding import b64url_decode, b64url_encode, rfc3339


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", ""),
        (b"\x00", "AA"),
        (b"\xfb\xff", "-_8"),
        (b"abc", "YWJj"),
        (b"\xff\xfe\xfd\xfc", "__79_A"),
    ],
)
def test_encode_is_unpadded_urlsafe_and_round_trips(data: bytes, text: str) -> None:
    assert b64url_encode(data) == text
    assert b64url_decode(text) == data


@pytest.mark.parametrize(
    "text",
    [
        "AA==",  # padding, which JOSE forbids
        "AA=",
        "+_8",  # the standard alphabet's characters
        "-/8",
        "YW Jj",  # Python's lenient decoder would drop these
        "YWJj\n",
        "YWJ.",
        "A",  # one character can never be a whole byte
        "AAAAA",
        "é",
    ],
)
def test_decode_refuses_what_base64url_without_padding_forbids(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(text)


@pytest.mark.parametrize(("text", "data"), [("AA==", b"\x00"), ("AAA=", b"\x00\x00"), ("AA", b"\x00"), ("", b"")])
def test_decode_allow_padding_accepts_padded_and_unpadded(text: str, data: bytes) -> None:
    assert b64url_decode(text, allow_padding=True) == data


@pytest.mark.parametrize("text", ["AA=", "A===", "AAAAA===", "+A==", "AA=A"])
def test_decode_allow_padding_still_refuses_malformed_padding_and_alphabet(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(text, allow_padding=True)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC), "2026-01-02T03:04:05Z"),  # truncated, not rounded
        (datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))), "2026-01-02T03:04:05Z"),
        (datetime(2025, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))), "2026-01-01T00:30:00Z"),
    ],
)
def test_rfc3339_is_utc_seconds_with_z(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text


def test_rfc3339_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339(datetime(2026, 1, 2, 3, 4, 5))
