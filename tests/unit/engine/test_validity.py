from datetime import UTC, datetime, timedelta

import pytest

from acmeca.domain.claims import Claims
from acmeca.domain.errors import Forbidden, Malformed
from acmeca.engine.requests import Validity
from acmeca.engine.serials import canonical_serial, new_serial
from acmeca.engine.validity import resolve_validity

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CLAIMS = Claims(min_duration=timedelta(minutes=5), max_duration=timedelta(hours=24),
                default_duration=timedelta(hours=24))
BACKDATE = timedelta(minutes=1)


def test_defaults_backdate_start_but_not_duration() -> None:
    resolved = resolve_validity(Validity(), CLAIMS, now=NOW, backdate=BACKDATE)
    assert resolved.not_before == NOW - BACKDATE
    assert resolved.not_after == NOW + timedelta(hours=24)


def test_profile_default_overrides_claims_default() -> None:
    resolved = resolve_validity(Validity(), CLAIMS, now=NOW, backdate=BACKDATE, default=timedelta(hours=6))
    assert resolved.not_after == NOW + timedelta(hours=6)


@pytest.mark.parametrize(
    ("not_after", "message"),
    [
        (NOW + timedelta(minutes=1), "requested duration of 1m0s is less than the authorized minimum "
                                     "certificate duration of 5m0s"),
        (NOW + timedelta(hours=25), "requested duration of 25h0m0s is more than the authorized maximum "
                                    "certificate duration of 24h0m0s"),
    ],
)
def test_step_ca_duration_messages(not_after: datetime, message: str) -> None:
    with pytest.raises(Forbidden) as caught:
        resolve_validity(Validity(not_after=not_after), CLAIMS, now=NOW, backdate=BACKDATE)
    assert caught.value.detail == message


def test_inverted_and_past_windows_are_malformed() -> None:
    with pytest.raises(Malformed):
        resolve_validity(Validity(not_before=NOW, not_after=NOW - timedelta(hours=1)), CLAIMS, now=NOW,
                         backdate=BACKDATE)
    with pytest.raises(Malformed):
        resolve_validity(Validity(not_before=NOW - timedelta(hours=3), not_after=NOW - timedelta(hours=2)),
                         CLAIMS, now=NOW, backdate=BACKDATE)


def test_capped_at_issuer_expiry() -> None:
    cap = NOW + timedelta(hours=2)
    resolved = resolve_validity(Validity(), CLAIMS, now=NOW, backdate=BACKDATE, issuer_not_after=cap)
    assert resolved.not_after == cap


def test_serials_are_positive_16_byte_and_random() -> None:
    serials = {new_serial() for _ in range(200)}
    assert len(serials) == 200
    assert all(2**120 <= s < 2**127 for s in serials)


@pytest.mark.parametrize(("text", "canonical"), [("0x1f", "31"), ("0X1F", "31"), ("255", "255"), (" 7 ", "7")])
def test_canonical_serial(text: str, canonical: str) -> None:
    assert canonical_serial(text) == canonical


@pytest.mark.parametrize("text", ["", "abc", "0xzz", "-5", "0"])
def test_bad_serials(text: str) -> None:
    with pytest.raises(ValueError, match="serial number"):
        canonical_serial(text)
