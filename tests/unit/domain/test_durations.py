from datetime import UTC, datetime, timedelta

import pytest

from acmeca.domain.durations import format_duration, parse_duration, parse_time_or_duration
from acmeca.domain.errors import Malformed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("-5m", timedelta(minutes=-5)),
        ("300ms", timedelta(milliseconds=300)),
        ("1.5h", timedelta(minutes=90)),
        ("0", timedelta(0)),
        ("2h45m10s", timedelta(hours=2, minutes=45, seconds=10)),
    ],
)
def test_parses_go_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "5", "5d", "1h 30m", "--5m", "5m-", "abc"])
def test_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(Malformed):
        parse_duration(text)


@pytest.mark.parametrize(
    ("delta", "text"),
    [(timedelta(hours=24), "24h0m0s"), (timedelta(minutes=5), "5m0s"), (timedelta(seconds=7), "7s"),
     (timedelta(0), "0s"), (timedelta(hours=-1), "-1h0m0s")],
)
def test_formats_like_go(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_time_or_duration() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_time_or_duration("1h", now=now) == now + timedelta(hours=1)
    assert parse_time_or_duration("2026-02-01T00:00:00Z", now=now) == datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(Malformed):
        parse_time_or_duration("2026-02-01T00:00:00", now=now)
    with pytest.raises(Malformed):
        parse_time_or_duration("tomorrow", now=now)
