"""How long a client waits before polling again: the server's ``Retry-After``, else a short default.

lego, Go's golang.org/x/crypto/acme and certbot all honour ``Retry-After`` on ACME polls (certbot also
sleeps at least one second between polls); the bench does what they do, with a 100 ms default when the
server sends no hint, and caps any hint so a bad header cannot stall a bounded run.
"""

from __future__ import annotations

import datetime
from email.utils import parsedate_to_datetime

DEFAULT_POLL = 0.1
MAX_RETRY_AFTER = 10.0


def retry_after_seconds(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date; None when absent or unreadable. Never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    return max(0.0, (when - now).total_seconds())


def poll_delay(value: str | None, now: datetime.datetime | None = None) -> float:
    """The pause before the next poll: the hint (at most MAX_RETRY_AFTER) or DEFAULT_POLL without one."""
    hinted = retry_after_seconds(value, now)
    return DEFAULT_POLL if hinted is None else min(hinted, MAX_RETRY_AFTER)
