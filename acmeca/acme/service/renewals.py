"""ARI in use: renewalInfo lookups, newOrder ``replaces``, and the operator's early-renewal request.

The certID and window arithmetic live in ``renewal_info``; this module adds the database: the certificate must
exist, come from one of our issuers (the AKI in the certID is checked against the ``issuers`` table) and have
been issued through this ACME provisioner, otherwise the lookup is 404. ``replaces`` is checked the way
RFC 9773 §5 asks (same account, a shared identifier, not already replaced by a live order) and recorded on the
old certificate once the new one is issued, which lets an operator watch a mass renewal progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from acmeca.acme.service.provisioner import AcmeProvisioner
from acmeca.acme.service.renewal_info import CertID, SuggestedWindow, decode_cert_id, suggested_window
from acmeca.domain.acme import AccountRecord
from acmeca.domain.clock import Clock
from acmeca.domain.errors import AlreadyReplaced, Malformed, NotFound, Unauthorized
from acmeca.domain.identifiers import Identifier
from acmeca.domain.records import CertificateRecord
from acmeca.engine.issuer import IssuingEngine, parse_serial_or_malformed
from acmeca.logs import audit_admin
from acmeca.store import issuers, renewals
from acmeca.store.database import Database

MAX_SERIALS = 1000


class RenewalService:
    def __init__(self, db: Database, clock: Clock, engine: IssuingEngine) -> None:
        self._db = db
        self._clock = clock
        self._engine = engine

    async def _issuer_known(self, ski: str) -> bool:
        async with self._db.read() as tx:
            return await issuers.der_by_ski(tx, ski) is not None

    async def _certificate(self, cert_id: CertID) -> CertificateRecord | None:
        if not await self._issuer_known(cert_id.authority_key_id):
            return None
        record = await self._engine.find_certificate(cert_id.serial)
        if record is None or record.issuer_ski != cert_id.authority_key_id:
            return None
        return record

    async def window(self, provisioner: AcmeProvisioner, text: str) -> SuggestedWindow:
        """``GET renewalInfo/{certID}``: malformed → 400, unknown or another directory's → 404."""
        record = await self._certificate(decode_cert_id(text))
        if record is None or record.provisioner_id != provisioner.id:
            raise NotFound("no certificate with that certID was issued through this directory")
        return suggested_window(record, provisioner.renewal_info, self._clock.now())

    async def check_replaces(
        self, account: AccountRecord, identifiers: Sequence[Identifier], replaces: Any
    ) -> CertificateRecord | None:
        """The certificate a newOrder ``replaces`` (None when absent), after every RFC 9773 §5 check."""
        if replaces is None:
            return None
        if not isinstance(replaces, str):
            raise Malformed("replaces must be a certID string")
        record = await self._certificate(decode_cert_id(replaces))
        if record is None:
            raise Malformed(f"replaces names no certificate this CA issued: {replaces}")
        if record.acme_account_id != account.id:
            raise Unauthorized("replaces names a certificate another account ordered")
        if not {i.base for i in record.identifiers} & {i.base for i in identifiers}:
            raise Malformed("replaces names a certificate that shares no identifier with this order")
        async with self._db.read() as tx:
            live = await renewals.live_orders_replacing(tx, replaces)
        if record.replaced_by_order is not None or live:
            raise AlreadyReplaced(f"certificate {replaces} has already been replaced by another order")
        return record

    async def mark_replaced(self, replaces: str | None, order_id: str) -> None:
        """After issuance: the old certificate records the order that replaced it."""
        if replaces is None:
            return
        record = await self._certificate(decode_cert_id(replaces))
        if record is not None:
            async with self._db.write() as tx:
                await renewals.mark_replaced(tx, record.serial, order_id)

    async def suggest_early(
        self, *, serials: Sequence[str] = (), issuer_ski: str | None = None, by: str = "admin"
    ) -> list[str]:
        """Move the ARI window of these certificates to now, so ARI clients renew at their next poll.

        Serials may be decimal or ``0x``-prefixed hex (as ``step ca revoke`` takes them); a bad one is Malformed.
        """
        serials = [parse_serial_or_malformed(serial) for serial in serials]
        if (issuer_ski is None) == (not serials):
            raise Malformed('give either "serials" (a non-empty list) or "issuer" (an SKI in hex)')
        if len(serials) > MAX_SERIALS:
            raise Malformed(f"at most {MAX_SERIALS} serials per request")
        if issuer_ski is not None and not await self._issuer_known(issuer_ski):
            raise NotFound(f"no issuer with SKI {issuer_ski}")
        async with self._db.write() as tx:
            touched = await renewals.suggest_renewal(
                tx, at=self._clock.now(), serials=serials, issuer_ski=issuer_ski
            )
        audit_admin("early_renewal_requested", "early renewal requested", admin=by, issuer=issuer_ski,
                    serials=touched)
        return touched
