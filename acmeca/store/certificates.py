"""Issued certificates, their identifiers, revocations, issuers and stored CRLs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.errors import AlreadyRevoked, Conflict, NotFound
from acmeca.domain.identifiers import Identifier, IdentifierType
from acmeca.domain.records import CertificateRecord, Requester, Reservation, Revocation, RevokedEntry, StoredCRL
from acmeca.domain.status import RequesterKind, RevocationReason
from acmeca.store.database import Database, fast_read
from acmeca.store.schema import blocked_keys, certificate_identifiers, certificates, counters, crls, issuers


def _record(row: Any, identifiers: Sequence[Identifier]) -> CertificateRecord:
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
_COMPLETE = (
    certificates.update()
    .where(certificates.c.serial == sa.bindparam("for_serial"), certificates.c.state == "reserved")
    .values(state="issued", der=sa.bindparam("signed_der"))
)
_RESERVE = certificates.insert()
_IS_BLOCKED = fast_read(
    sa.select(blocked_keys.c.spki_sha256).where(blocked_keys.c.spki_sha256 == sa.bindparam("spki"))
)


class CertificateRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def reserve(self, reservation: Reservation) -> None:
        try:
            async with self._db.write() as conn:
                result = await conn.execute(_RESERVE, {
                    "serial": reservation.serial, "state": "reserved", "issuer_ski": reservation.issuer_ski,
                    "der": None, "spki_sha256": reservation.spki_sha256, "common_name": reservation.common_name,
                    "profile": reservation.profile, "requester_kind": reservation.requester.kind.value,
                    "requester_id": reservation.requester.id, "provisioner_id": reservation.provisioner_id,
                    "provisioner_name": reservation.provisioner_name,
                    "acme_account_id": reservation.acme_account_id, "acme_order_id": reservation.acme_order_id,
                    "not_before": reservation.not_before, "not_after": reservation.not_after,
                    "created_at": reservation.created_at, "renewed_from": reservation.renewed_from,
                })
                certificate_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
                if reservation.identifiers:
                    await conn.execute(
                        certificate_identifiers.insert(),
                        [
                            {"certificate_id": certificate_id, "type": i.type.value, "value": i.value}
                            for i in dict.fromkeys(reservation.identifiers)
                        ],
                    )
        except IntegrityError:
            raise Conflict(f"serial {reservation.serial} is already in use") from None

    async def complete(self, serial: str, der: bytes) -> None:
        async with self._db.write() as conn:
            result = await conn.execute(_COMPLETE, {"for_serial": serial, "signed_der": der})
        if result.rowcount != 1:
            raise Conflict(f"serial {serial} is not reserved")

    async def fail(self, serial: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                certificates.update()
                .where(certificates.c.serial == serial, certificates.c.state == "reserved")
                .values(state="failed")
            )

    async def by_serial(self, serial: str) -> CertificateRecord:
        async with self._db.read() as conn:
            row = (await conn.execute(_BY_SERIAL, {"serial": serial})).first()
            if row is None:
                raise NotFound(f"certificate with serial number {serial} not found")
            return _record(row, await self._identifiers(conn, row.id))

    async def find(self, serial: str) -> CertificateRecord | None:
        try:
            return await self.by_serial(serial)
        except NotFound:
            return None

    async def _identifiers(self, conn: Any, certificate_id: int) -> list[Identifier]:
        rows = await conn.execute(_IDENTIFIERS, {"certificate_id": certificate_id})
        return [Identifier(IdentifierType(r.type), r.value) for r in rows]

    async def revoke(self, serial: str, revocation: Revocation) -> None:
        """Revoke once: a conditional UPDATE so two racing revocations cannot both succeed."""
        async with self._db.write() as conn:
            result = await conn.execute(
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
            if result.rowcount == 1:
                return
            exists = await conn.scalar(
                sa.select(certificates.c.id).where(certificates.c.serial == serial, certificates.c.state == "issued")
            )
        if exists is None:
            raise NotFound(f"certificate with serial number {serial} not found")
        raise AlreadyRevoked(f"certificate with serial number '{serial}' is already revoked")

    async def revoked_since(self, issuer_ski: str, not_expired_before: datetime) -> list[RevokedEntry]:
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(certificates.c.serial, certificates.c.revoked_at, certificates.c.revocation_reason)
                .where(
                    certificates.c.issuer_ski == issuer_ski,
                    certificates.c.revoked_at.is_not(None),
                    certificates.c.not_after >= not_expired_before,
                )
                .order_by(certificates.c.revoked_at)
            )
            return [RevokedEntry(r.serial, r.revoked_at, RevocationReason(r.revocation_reason or 0)) for r in rows]

    async def block_key(self, spki_sha256: str, *, at: datetime, source: str) -> None:
        async with self._db.write() as conn:
            exists = await conn.scalar(
                sa.select(blocked_keys.c.spki_sha256).where(blocked_keys.c.spki_sha256 == spki_sha256)
            )
            if exists is None:
                await conn.execute(blocked_keys.insert().values(spki_sha256=spki_sha256, created_at=at, source=source))

    async def is_key_blocked(self, spki_sha256: str) -> bool:
        async with self._db.read() as conn:
            return await conn.scalar(_IS_BLOCKED, {"spki": spki_sha256}) is not None


class IssuerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure(self, *, ski: str, subject: str, der: bytes, is_root: bool,
                     not_before: datetime, not_after: datetime, at: datetime) -> None:
        async with self._db.write() as conn:
            exists = await conn.scalar(sa.select(issuers.c.ski).where(issuers.c.ski == ski))
            if exists is None:
                await conn.execute(
                    issuers.insert().values(
                        ski=ski, subject=subject, der=der, is_root=is_root,
                        not_before=not_before, not_after=not_after, created_at=at,
                    )
                )

    async def by_ski(self, ski: str) -> bytes | None:
        async with self._db.read() as conn:
            value = await conn.scalar(sa.select(issuers.c.der).where(issuers.c.ski == ski))
            return bytes(value) if value is not None else None


class CRLRepository:
    """The signed CRL is stored so every replica serves the same bytes; numbers come from a counter row."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def next_number(self, name: str) -> int:
        """Advance a counter with a conditional UPDATE (compare-and-set), retrying on a lost race."""
        for _ in range(20):
            async with self._db.write() as conn:
                current = await conn.scalar(sa.select(counters.c.value).where(counters.c.name == name))
                if current is None:
                    try:
                        await conn.execute(counters.insert().values(name=name, value=1))
                    except IntegrityError:
                        continue
                    return 1
                result = await conn.execute(
                    counters.update()
                    .where(counters.c.name == name, counters.c.value == current)
                    .values(value=current + 1)
                )
                if result.rowcount == 1:
                    return int(current) + 1
        raise Conflict(f"counter {name} is too contended")

    async def latest(self, issuer_ski: str) -> StoredCRL | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(crls).where(crls.c.issuer_ski == issuer_ski))).first()
            if row is None:
                return None
            return StoredCRL(row.issuer_ski, int(row.number), bytes(row.der), row.this_update, row.next_update)

    async def store(self, crl: StoredCRL) -> None:
        """Keep the newest CRL only; an older number never overwrites a newer one."""
        async with self._db.write() as conn:
            result = await conn.execute(
                crls.update()
                .where(crls.c.issuer_ski == crl.issuer_ski, crls.c.number < crl.number)
                .values(number=crl.number, der=crl.der, this_update=crl.this_update, next_update=crl.next_update)
            )
            if result.rowcount == 0:
                exists = await conn.scalar(sa.select(crls.c.number).where(crls.c.issuer_ski == crl.issuer_ski))
                if exists is None:
                    await conn.execute(
                        crls.insert().values(
                            issuer_ski=crl.issuer_ski, number=crl.number, der=crl.der,
                            this_update=crl.this_update, next_update=crl.next_update,
                        )
                    )
