from datetime import UTC, datetime, timedelta

import pytest

from acmeca.acme.service.renewal_info import (
    CertID,
    RenewalInfoSettings,
    decode_cert_id,
    encode_cert_id,
    suggested_window,
)
from acmeca.domain.errors import Malformed
from acmeca.domain.records import CertificateRecord, Requester, Revocation
from acmeca.domain.status import RequesterKind, RevocationReason

RFC_AKI = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_rfc_9773_example() -> None:
    assert encode_cert_id(RFC_AKI, 0x87654321) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    assert decode_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE") == CertID(RFC_AKI.hex(), str(0x87654321))


@pytest.mark.parametrize("serial", [1, 0x7F, 0x80, 0xFF, 2**127 + 5, 2**159 - 1])
def test_round_trip(serial: int) -> None:
    assert decode_cert_id(encode_cert_id(b"\x01\x02", serial)).serial == str(serial)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aYhba4dGQEHhs3uEe6CuLN4ByNQ=.AIdlQyE", "unpadded"),
        ("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE=", "unpadded"),
        ("aYhba4dGQEHhs3uEe6CuLN4ByNQ", "two base64url parts"),
        ("a.b.c", "two base64url parts"),
        ("aYhb+4dG.AIdlQyE", "unpadded base64url"),
        (".AIdlQyE", "unpadded base64url"),
        ("aYhba4dGQEHhs3uEe6CuLN4ByNQ.h2VDIQ", "positive DER INTEGER"),  # 0x87.. without its 0x00
        ("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AAE", "minimally"),
        ("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AA", "positive"),
    ],
)
def test_malformed_cert_ids(text: str, message: str) -> None:
    with pytest.raises(Malformed, match=message):
        decode_cert_id(text)


def _record(revoked: bool = False, suggested: datetime | None = None) -> CertificateRecord:
    return CertificateRecord(
        serial="5", der=b"", issuer_ski="aa", spki_sha256="bb", common_name=None, identifiers=(), profile="default",
        requester=Requester(RequesterKind.ACME_ACCOUNT, "a"), provisioner_id=None, provisioner_name=None,
        not_before=NOW, not_after=NOW + timedelta(days=10), created_at=NOW,
        revocation=Revocation(NOW, RevocationReason.UNSPECIFIED, "", "x") if revoked else None,
        renewal_suggested_at=suggested,
    )


def test_window_from_lifetime_fractions() -> None:
    settings = RenewalInfoSettings(window_start=0.5, window_end=0.75, retry_after=timedelta(hours=1))
    window = suggested_window(_record(), settings, NOW + timedelta(days=1))
    assert (window.start, window.end) == (NOW + timedelta(days=5), NOW + timedelta(days=7, hours=12))
    assert window.retry_after == timedelta(hours=1)
    assert window.to_json() == {"suggestedWindow": {"start": "2026-06-06T00:00:00Z", "end": "2026-06-08T12:00:00Z"}}


@pytest.mark.parametrize("record", [_record(revoked=True), _record(suggested=NOW)])
def test_revoked_or_operator_requested_moves_window_to_now(record: CertificateRecord) -> None:
    later = NOW + timedelta(days=1)
    window = suggested_window(record, RenewalInfoSettings(), later)
    assert window.start < window.end <= later
