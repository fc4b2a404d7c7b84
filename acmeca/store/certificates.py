"""Issued certificates: reserved before signing, completed after, revoked once; their identifiers; blocked keys.

Every function runs inside the caller's transaction (see acmeca.store.transaction). The engine reserves the
serial in one write transaction, signs outside any transaction, and stores the DER in another.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.errors import AlreadyRevoked, Conflict, NotFound
from acmeca.domain.identifiers import Identifier, IdentifierType
from acmeca.domain.records import CertificateRecord, Requester, Reservation, Revocation, RevokedEntry
from acmeca.domain.status import RequesterKind, RevocationReason
from acmeca.store.schema import blocked_keys, certificate_identifiers, certificates
from acmeca.store.transaction import Row, Transaction, fast_read, fast_write


def _record(row: Row, identifiers: Sequence[Identifier]) -> CertificateRecord:
    revocation = None
    if row.revoked_at is not None:
        revocation = Revocation(
            revoked_at=row.revoked_at,
            reason=RevocationReason(row.revocation_reason or 0),
            note=row.revocation_note or "",
            revoked_by=row.revoked_by or "",
        )
    return CertificateRecord(
        serial=row.serial,
        der=row.der,
        issuer_ski=row.issuer_ski,
        spki_sha256=row.spki_sha256,
        common_name=row.common_name,
        identifiers=tuple(identifiers),
        profile=row.profile,
        requester=Requester(RequesterKind(row.requester_kind), row.requester_id),
        provisioner_id=row.provisioner_id,
        provisioner_name=row.provisioner_name,
        not_before=row.not_before,
        not_after=row.not_after,
        created_at=row.created_at,
        acme_account_id=row.acme_account_id,
        acme_order_id=row.acme_order_id,
        revocation=revocation,
        renewed_from=row.renewed_from,
        replaced_by_order=row.replaced_by_order,
        renewal_suggested_at=row.renewal_suggested_at,
    )


# Every issuance runs these; built once (building a statement costs more than running it on SQLite).
_BY_SERIAL = fast_read(
    sa.select(certificates).where(certificates.c.serial == sa.bindparam("serial"), certificates.c.state == "issued")
)
_IDENTIFIERS = fast_read(
    sa.select(certificate_identifiers.c.type, certificate_identifiers.c.value).where(
        certificate_identifiers.c.certificate_id == sa.bindparam("certificate_id")
    )
)
_COMPLETE = fast_write(
    certificates.update()
    .where(certificates.c.serial == sa.bindparam("for_serial"), certificates.c.state == "reserved")
    .values(state="issued", der=sa.bindparam("signed_der"))
)
_RESERVE = fast_write(certificates.insert().returning(certificates.c.id))
_INSERT_IDENTIFIERS = fast_write(certificate_identifiers.insert())
_IS_BLOCKED = fast_read(
    sa.select(blocked_keys.c.spki_sha256).where(blocked_keys.c.spki_sha256 == sa.bindparam("spki"))
)


async def reserve(tx: Transaction, reservation: Reservation) -> None:
    """Persist a serial before it is signed, so it is never handed out twice; a taken serial is a Conflict."""
    try:
        certificate_id = await tx.scalar(_RESERVE, {
            "serial": reservation.serial, "state": "reserved", "issuer_ski": reservation.issuer_ski,
            "der": None, "spki_sha256": reservation.spki_sha256, "common_name": reservation.common_name,
            "profile": reservation.profile, "requester_kind": reservation.requester.kind.value,
            "requester_id": reservation.requester.id, "provisioner_id": reservation.provisioner_id,
            "provisioner_name": reservation.provisioner_name,
            "acme_account_id": reservation.acme_account_id, "acme_order_id": reservation.acme_order_id,
            "not_before": reservation.not_before, "not_after": reservation.not_after,
            "created_at": reservation.created_at, "renewed_from": reservation.renewed_from,
        })
        if reservation.identifiers:
            await tx.execute(
                _INSERT_IDENTIFIERS,
                [
                    {"certificate_id": certificate_id, "type": i.type.value, "value": i.value}
                    for i in dict.fromkeys(reservation.identifiers)
                ],
            )
    except IntegrityError:
        raise Conflict(f"serial {reservation.serial} is already in use") from None


async def complete(tx: Transaction, serial: str, der: bytes) -> None:
    """reserved → issued with the signed DER."""
    if await tx.execute(_COMPLETE, {"for_serial": serial, "signed_der": der}) != 1:
        raise Conflict(f"serial {serial} is not reserved")


async def fail(tx: Transaction, serial: str) -> None:
    """reserved → failed: signing did not happen; the serial stays used."""
    await tx.execute(
        certificates.update()
        .where(certificates.c.serial == serial, certificates.c.state == "reserved")
        .values(state="failed")
    )


async def issued_for_order(tx: Transaction, order_id: str) -> str | None:
    """The serial of a certificate already issued for an ACME order, if any (a resumed finalize reuses it)."""
    value = await tx.scalar(
        sa.select(certificates.c.serial)
        .where(certificates.c.acme_order_id == order_id, certificates.c.state == "issued")
        .order_by(certificates.c.id)
        .limit(1)
    )
    return str(value) if value is not None else None


async def find(tx: Transaction, serial: str) -> CertificateRecord | None:
    """An issued certificate by canonical serial, or None."""
    row = await tx.first(_BY_SERIAL, {"serial": serial})
    if row is None:
        return None
    rows = await tx.all(_IDENTIFIERS, {"certificate_id": row.id})
    return _record(row, [Identifier(IdentifierType(r.type), r.value) for r in rows])


async def by_serial(tx: Transaction, serial: str) -> CertificateRecord:
    record = await find(tx, serial)
    if record is None:
        raise NotFound(f"certificate with serial number {serial} not found")
    return record


async def revoke(tx: Transaction, serial: str, revocation: Revocation) -> None:
    """Revoke once: a conditional UPDATE so two racing revocations cannot both succeed."""
    touched = await tx.execute(
        certificates.update()
        .where(
            certificates.c.serial == serial,
            certificates.c.state == "issued",
            certificates.c.revoked_at.is_(None),
        )
        .values(
            revoked_at=revocation.revoked_at, revocation_reason=int(revocation.reason),
            revocation_note=revocation.note, revoked_by=revocation.revoked_by,
        )
    )
    if touched == 1:
        return
    exists = await tx.scalar(
        sa.select(certificates.c.id).where(certificates.c.serial == serial, certificates.c.state == "issued")
    )
    if exists is None:
        raise NotFound(f"certificate with serial number {serial} not found")
    raise AlreadyRevoked(f"certificate with serial number '{serial}' is already revoked")


async def revoked_since(tx: Transaction, issuer_ski: str, not_expired_before: datetime) -> list[RevokedEntry]:
    """What a CRL lists: revoked certificates of one issuer not expired before the given time."""
    rows = await tx.all(
        sa.select(certificates.c.serial, certificates.c.revoked_at, certificates.c.revocation_reason)
        .where(
            certificates.c.issuer_ski == issuer_ski,
            certificates.c.revoked_at.is_not(None),
            certificates.c.not_after >= not_expired_before,
        )
        .order_by(certificates.c.revoked_at)
    )
    return [RevokedEntry(r.serial, r.revoked_at, RevocationReason(r.revocation_reason or 0)) for r in rows]


async def block_key(tx: Transaction, spki_sha256: str, *, at: datetime, source: str) -> None:
    exists = await tx.scalar(sa.select(blocked_keys.c.spki_sha256).where(blocked_keys.c.spki_sha256 == spki_sha256))
    if exists is None:
        await tx.execute(blocked_keys.insert().values(spki_sha256=spki_sha256, created_at=at, source=source))


async def is_key_blocked(tx: Transaction, spki_sha256: str) -> bool:
    return await tx.scalar(_IS_BLOCKED, {"spki": spki_sha256}) is not None
