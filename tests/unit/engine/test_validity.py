from datetime import UTC, datetime, timedelta, timezone

import pytest

from acmeca.domain.claims import Claims
from acmeca.domain.errors import Forbidden, Malformed
from acmeca.engine.requests import Validity
from acmeca.engine.serials import canonical_serial, new_serial
from acmeca.engine.validity import requested_time, resolve_validity

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
        (NOW + timedelta(minutes=1), "requested duration of 2m0s is less than the authorized minimum "
                                     "certificate duration of 5m0s"),
        (NOW + timedelta(minutes=3, seconds=59), "requested duration of 4m59s is less than the authorized minimum "
                                                 "certificate duration of 5m0s"),
        (NOW + timedelta(hours=25), "requested duration of 25h1m0s is more than the authorized maximum "
                                    "certificate duration of 24h1m0s"),
        (NOW + timedelta(hours=24, seconds=1), "requested duration of 24h1m1s is more than the authorized "
                                               "maximum certificate duration of 24h1m0s"),
    ],
)
def test_step_ca_duration_messages(not_after: datetime, message: str) -> None:
    """step-ca's validityValidator: the certificate's own duration (backdate included) against max + backdate."""
    with pytest.raises(Forbidden) as caught:
        resolve_validity(Validity(not_after=not_after), CLAIMS, now=NOW, backdate=BACKDATE)
    assert caught.value.detail == message


@pytest.mark.parametrize("after_arrival", [timedelta(minutes=4, seconds=59), timedelta(minutes=4),
                                           timedelta(hours=24)])
def test_duration_is_measured_from_the_backdated_not_before(after_arrival: timedelta) -> None:
    """``step ca certificate --not-after 5m`` computes its absolute notAfter before it decrypts the key: it
    arrives a second or more later and still meets the 5m minimum, as on step-ca (and so does 4m)."""
    resolved = resolve_validity(Validity(not_after=NOW + after_arrival), CLAIMS, now=NOW, backdate=BACKDATE)
    assert (resolved.not_before, resolved.not_after) == (NOW - BACKDATE, NOW + after_arrival)


def test_a_requested_not_before_is_not_backdated_and_the_maximum_admits_the_backdate() -> None:
    window = Validity(not_before=NOW, not_after=NOW + timedelta(hours=24, seconds=30))
    resolved = resolve_validity(window, CLAIMS, now=NOW, backdate=BACKDATE)
    assert (resolved.not_before, resolved.not_after) == (window.not_before, window.not_after)
    with pytest.raises(Forbidden, match="less than the authorized minimum"):
        resolve_validity(Validity(not_before=NOW, not_after=NOW + timedelta(minutes=4, seconds=59)), CLAIMS,
                         now=NOW, backdate=BACKDATE)


def test_sub_second_parts_are_dropped_before_measuring() -> None:
    now = NOW.replace(microsecond=900_000)
    resolved = resolve_validity(Validity(not_after=NOW + timedelta(minutes=4)), CLAIMS, now=now, backdate=BACKDATE)
    assert resolved.not_before == now - BACKDATE  # 4m0.1s after the truncated start: exactly 5m counts


def test_go_zero_time_is_unset_and_unrepresentable_times_are_malformed() -> None:
    assert requested_time(datetime(1, 1, 1, tzinfo=UTC), "notBefore") is None
    plus_two = timezone(timedelta(hours=2))
    assert requested_time(datetime(2030, 1, 1, 2, tzinfo=plus_two), "notAfter") == datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(Malformed, match=r"^notBefore 0001-01-01T00:00:00[+]02:00 is out of range$"):
        requested_time(datetime(1, 1, 1, tzinfo=plus_two), "notBefore")
    with pytest.raises(Malformed, match=r"^notBefore is out of range$"):
        resolve_validity(Validity(not_before=datetime(9999, 12, 31, 12, tzinfo=UTC)), CLAIMS, now=NOW,
                         backdate=BACKDATE)


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
