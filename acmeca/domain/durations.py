"""Go-style duration strings ("24h", "1h30m", "-5m", "300ms") as step-ca writes them in ca.json and requests."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from acmeca.domain.errors import Malformed

_UNITS = {
    "ns": timedelta(microseconds=0.001),
    "us": timedelta(microseconds=1),
    "µs": timedelta(microseconds=1),
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration; raise Malformed naming the bad text (also when it is more than timedelta holds)."""
    try:
        return _duration(text)
    except OverflowError:  # "99999999999999999h": past timedelta's range (about 2.7 million years)
        raise Malformed(f"duration {text!r} is out of range") from None


def _duration(text: str) -> timedelta:
    """parse_duration, with a too-large duration left as OverflowError for callers that report it themselves."""
    if not isinstance(text, str) or not text:
        raise Malformed(f"invalid duration {text!r}")
    sign = 1
    body = text
    if body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return timedelta(0)
    position = 0
    total = timedelta(0)
    for match in _PART.finditer(body):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(body) or not body:
        raise Malformed(f"invalid duration {text!r}")
    return sign * total


def format_duration(delta: timedelta) -> str:
    """Format like Go's time.Duration.String() for whole seconds ("24h0m0s", "5m0s", "1h30m0s")."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def parse_time_or_duration(text: str, *, now: datetime) -> datetime:
    """step-ca's notBefore/notAfter: an RFC 3339 time, or a duration relative to ``now``.

    A duration that takes ``now`` past what datetime holds raises OverflowError; callers name the field.
    """
    try:
        return now + _duration(text)
    except Malformed:
        pass
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Malformed(f"invalid time or duration {text!r}") from exc
    if value.tzinfo is None:
        raise Malformed(f"time {text!r} has no time zone")
    return value
