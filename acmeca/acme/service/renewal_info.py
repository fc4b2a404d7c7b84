"""ACME Renewal Information (RFC 9773): certificate identifiers and suggested renewal windows.

A certID is ``base64url(AKI keyIdentifier) "." base64url(serial DER content octets)``, unpadded. The window is
configured per ACME provisioner as fractions of the certificate's lifetime
(``"renewalInfo": {"windowStart": 0.66, "windowEnd": 0.80, "retryAfter": "6h"}``); it moves to "now" for a
revoked certificate or when the operator asks a fleet to renew early.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from acmeca.config import RenewalInfoSettings
from acmeca.domain.encoding import b64url_decode, b64url_encode, rfc3339
from acmeca.domain.errors import Malformed
from acmeca.domain.records import CertificateRecord

EARLY_RENEWAL_LOOKBACK = timedelta(hours=1)


@dataclass(frozen=True)
class CertID:
    authority_key_id: str  # lower-case hex
    serial: str  # canonical decimal


def serial_content_octets(serial: int) -> bytes:
    """The DER INTEGER content of a positive serial: big-endian, with a 0x00 first when the top bit is set."""
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big")


def encode_cert_id(authority_key_id: bytes, serial: int) -> str:
    return f"{b64url_encode(authority_key_id)}.{b64url_encode(serial_content_octets(serial))}"


def _unb64url(part: str, what: str) -> bytes:
    if not part or "=" in part or any(c in part for c in "+/"):
        raise Malformed(f"certID {what} must be unpadded base64url")
    try:
        return b64url_decode(part)
    except ValueError:
        raise Malformed(f"certID {what} is not valid base64url") from None


def decode_cert_id(text: str) -> CertID:
    """Parse a certID; padded, malformed or negative values are ``Malformed`` (400), never a lookup."""
    parts = text.split(".")
    if len(parts) != 2:
        raise Malformed("certID must be two base64url parts joined by a dot")
    aki = _unb64url(parts[0], "key identifier")
    serial_bytes = _unb64url(parts[1], "serial")
    if serial_bytes[0] & 0x80:
        raise Malformed("certID serial must be a positive DER INTEGER")
    if len(serial_bytes) > 1 and serial_bytes[0] == 0 and not serial_bytes[1] & 0x80:
        raise Malformed("certID serial is not minimally encoded")
    serial = int.from_bytes(serial_bytes, "big")
    if serial == 0:
        raise Malformed("certID serial must be positive")
    return CertID(authority_key_id=aki.hex(), serial=str(serial))


@dataclass(frozen=True)
class SuggestedWindow:
    start: datetime
    end: datetime
    retry_after: timedelta

    def to_json(self) -> dict[str, Any]:
        return {"suggestedWindow": {"start": rfc3339(self.start), "end": rfc3339(self.end)}}


def suggested_window(record: CertificateRecord, settings: RenewalInfoSettings, now: datetime) -> SuggestedWindow:
    if record.is_revoked or (record.renewal_suggested_at is not None and record.renewal_suggested_at <= now):
        # In the past: RFC 9773 clients renew at once when the window has begun.
        return SuggestedWindow(now - EARLY_RENEWAL_LOOKBACK, now, settings.retry_after)
    lifetime = record.not_after - record.not_before
    start = record.not_before + lifetime * settings.window_start
    end = record.not_before + lifetime * settings.window_end
    return SuggestedWindow(start, max(end, start + timedelta(seconds=1)), settings.retry_after)
