"""The two wire encodings every front end shares: base64url (RFC 4648 §5) and RFC 3339 timestamps.

One copy of each, because the copies had drifted: some accepted ``+`` and ``/`` (Python's decoder silently
maps or drops characters outside the alphabet), some emitted microseconds or ``+00:00``. Decoding raises
``ValueError`` only; each caller turns that into the error its wire expects (``Malformed`` naming the field,
``BadNonce``, ``Unauthenticated``), since the same bad string means different things in different places.
"""

from __future__ import annotations

import base64
import string
from datetime import UTC, datetime

_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")


def b64url_encode(data: bytes) -> str:
    """base64url without padding, the form JOSE, ACME and ARI put on the wire."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: str, *, allow_padding: bool = False) -> bytes:
    """Strict base64url: only ``A-Z a-z 0-9 - _``; missing padding is fine, ``=`` only when ``allow_padding``.

    ``allow_padding`` is for values we wrote ourselves in older releases (padded), never for JOSE input, where
    RFC 7515 §2 forbids padding. Raises ``ValueError`` for anything else, including an impossible length.
    """
    body = value
    if allow_padding and value.endswith("="):
        body = value.rstrip("=")
        if len(value) % 4 or len(value) - len(body) > 2:
            raise ValueError("base64url padding is malformed")
    if not set(body) <= _ALPHABET:
        raise ValueError("base64url value holds characters outside the base64url alphabet")
    if len(body) % 4 == 1:
        raise ValueError("base64url value has an impossible length")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def rfc3339(moment: datetime) -> str:
    """``2026-01-02T03:04:05Z``: UTC, seconds precision, ``Z`` (what ACME, ARI and step clients parse).

    Naive datetimes are refused: every time in acmeca is timezone-aware, and guessing a zone would silently
    shift a deadline.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("rfc3339 needs a timezone-aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
