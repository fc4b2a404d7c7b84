"""Finalize: CSR checks, the ready→processing compare-and-set, and issuance through the one engine.

The transition and a ``finalize`` job row (leased to this process) are written in one transaction, then the
certificate is issued while the request waits up to ``validation.settleWithin``, so a client usually sees
``valid`` and the certificate URL in the finalize reply; slower issuance carries on in the background and the
reply is ``processing`` with Retry-After. If this process dies before settling, the lease runs out and any
replica's worker resumes the job from the CSR kept in its payload, so an order is never left ``processing``.
Two concurrent finalizes cannot both issue: only one UPDATE moves the order out of ``ready``; and only one
attempt (the request's or a worker's) moves it out of ``processing``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from jwcrypto import jwk

from acmeca.acme.service.accounts import summary_json
from acmeca.acme.service.caa_recheck import CAARecheck
from acmeca.acme.service.challenges import ValidationContext
from acmeca.acme.service.orders import OrderService
from acmeca.acme.service.pacing import retry_after, settled_within
from acmeca.acme.service.provisioner import AcmeProvisioner, AcmeProvisioners
from acmeca.acme.service.renewals import RenewalService
from acmeca.acme.service.worker import JobWorker
from acmeca.crypto.csr import InvalidCSR, ParsedCSR, parse_csr_der
from acmeca.crypto.keypolicy import KeyRejected, check_public_key
from acmeca.domain.acme import AccountRecord, OrderRecord
from acmeca.domain.clock import Clock
from acmeca.domain.encoding import b64url_decode, b64url_encode
from acmeca.domain.errors import (
    BadCSR,
    BadPublicKey,
    CAError,
    ErrorSummary,
    InvalidProfile,
    OrderNotReady,
    ServiceUnavailable,
)
from acmeca.domain.identifiers import Identifier, IdentifierType, canonical_dns_name, canonical_ip
from acmeca.domain.records import JobRecord, Requester
from acmeca.domain.status import OrderStatus, RequesterKind
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.requests import CertificateProfile, IssuanceRequest, Validity
from acmeca.store import acme_accounts, acme_moves, acme_orders, certificates, jobs
from acmeca.store.database import Database

log = logging.getLogger(__name__)
FINALIZE_JOB = "finalize"
FINALIZE_LEASE = timedelta(seconds=60)


def public_key_thumbprint(key: Any) -> str:
    """RFC 7638 thumbprint of a certificate or CSR key, comparable with an account key's thumbprint."""
    return str(jwk.JWK.from_pyca(key).thumbprint())


def csr_identifiers(csr: ParsedCSR) -> tuple[set[Identifier], str | None]:
    """The identifier set a CSR asks for, and a DNS common name if it names one."""
    if csr.emails or csr.uris or csr.has_other_sans:
        raise BadCSR("the CSR may only request DNS names and IP addresses")
    try:
        names = {Identifier(IdentifierType.DNS, canonical_dns_name(n)) for n in csr.dns_names}
        names |= {Identifier(IdentifierType.IP, canonical_ip(a)) for a in csr.ip_addresses}
    except CAError as exc:
        raise BadCSR(f"the CSR holds an invalid name: {exc.detail}") from None
    if not csr.common_name:
        return names, None
    try:
        ip = Identifier(IdentifierType.IP, canonical_ip(csr.common_name))
    except CAError:
        ip = None
    if ip is not None:
        names.add(ip)  # a CN holding an IP address counts as a name but never becomes the CN
        return names, None
    try:
        cn = Identifier(IdentifierType.DNS, canonical_dns_name(csr.common_name))
    except CAError as exc:
        raise BadCSR(f"the CSR common name is invalid: {exc.detail}") from None
    names.add(cn)
    return names, cn.value


def check_csr(der: bytes, order: OrderRecord, account: AccountRecord) -> tuple[ParsedCSR, str | None]:
    """Every §7.4 CSR rule; any failure is badCSR and leaves the order ``ready``."""
    try:
        csr = parse_csr_der(der)
    except InvalidCSR as exc:
        raise BadCSR(str(exc)) from None
    try:
        check_public_key(csr.public_key)
    except KeyRejected as exc:
        raise BadCSR(f"the CSR key is not acceptable: {exc}") from None
    if public_key_thumbprint(csr.public_key) == account.key_thumbprint:
        raise BadCSR("the CSR key must not be the account key")
    names, common_name = csr_identifiers(csr)
    wanted = set(order.identifiers)
    if names != wanted:
        missing = sorted(i.value for i in wanted - names)
        extra = sorted(i.value for i in names - wanted)
        raise BadCSR(f"the CSR names do not match the order (missing {missing}, unexpected {extra})")
    if common_name is None:
        common_name = next((i.value for i in order.identifiers if i.type is IdentifierType.DNS), None)
    return csr, common_name


def certificate_profile(provisioner: AcmeProvisioner, order: OrderRecord) -> CertificateProfile:
    """The order's profile as the engine takes it; gone from the provisioner since newOrder → invalidProfile."""
    found = provisioner.profiles.get(order.profile)
    if found is None:
        raise InvalidProfile(f"profile {order.profile!r} is no longer offered; place a new order")
    return found.certificate


class FinalizeService:
    def __init__(
        self, db: Database, clock: Clock, engine: IssuingEngine, orders: OrderService,
        provisioners: AcmeProvisioners, *, owner: str, renewals: RenewalService | None = None,
        caa: CAARecheck | None = None, worker: JobWorker | None = None, validation: ValidationContext | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._engine = engine
        self._orders = orders
        self._provisioners = provisioners
        self._owner = owner
        self._renewals = renewals
        self._caa = caa
        self._worker = worker  # without one, the request waits for issuance however long it takes
        self._validation = validation

    async def finalize(
        self, provisioner: AcmeProvisioner, account: AccountRecord, order_id: str, csr_der: bytes,
        *, account_uri: str | None = None,
    ) -> OrderRecord:
        order = await self._orders.order(account, order_id)
        if order.status is not OrderStatus.READY:
            raise OrderNotReady(f"the order is {order.status.value}, not ready")
        csr, common_name = check_csr(csr_der, order, account)
        certificate_profile(provisioner, order)  # a profile retired since newOrder: invalidProfile, still ready
        if self._caa is not None:
            await self._caa.check(provisioner, order, account_uri)
        now = self._clock.now()
        job = jobs.NewJob(
            FINALIZE_JOB, order.id, {"csr": b64url_encode(csr_der)}, now, owner=self._owner,
            lease_expires_at=now + FINALIZE_LEASE,
        )
        async with self._db.write_one() as tx:  # one statement on PostgreSQL (acme_moves.start_finalize)
            account_key, moved = await acme_moves.start_finalize(
                tx, order.id, public_key_thumbprint(csr.public_key), job
            )
        if account_key:
            raise BadCSR("the CSR key is an ACME account key (RFC 8555 §11.1)")
        if not moved:
            raise OrderNotReady("the order is already being finalized")
        # The job row is committed before issuance begins: a crash from here on is resumed by a worker.
        attempt = self._attempt(provisioner, account, order, csr, common_name)
        if self._worker is None or self._validation is None:
            return _outcome(await attempt)
        task = self._worker.supervise(attempt, name=f"finalize-{order.id}")
        if await settled_within(task, self._validation.settings_for(provisioner).settle_within):
            return _outcome(task.result())
        return replace(order, status=OrderStatus.PROCESSING, updated_at=now)

    def retry_after(self, order: OrderRecord) -> int:
        """Seconds a client should wait before asking again about an order in ``processing``.

        Measured from when it entered ``processing``, against the lease after which a worker resumes it.
        """
        return retry_after(order.updated_at, FINALIZE_LEASE, self._clock.now())

    async def _attempt(
        self, provisioner: AcmeProvisioner, account: AccountRecord, order: OrderRecord, csr: ParsedCSR,
        common_name: str | None,
    ) -> OrderRecord | CAError:
        """``_issue`` with a refusal returned, not raised: already recorded on the order, it is only news to
        a request still waiting, and must not be logged as a crash when nobody waits any more."""
        try:
            return await self._issue(provisioner, account, order, csr, common_name)
        except CAError as exc:
            return exc

    async def _issue(
        self, provisioner: AcmeProvisioner, account: AccountRecord, order: OrderRecord, csr: ParsedCSR,
        common_name: str | None,
    ) -> OrderRecord:
        """Issue and settle the order; a refusal is recorded on the order and shown to the client."""
        try:
            issued = await self._engine.issue(
                IssuanceRequest(
                    public_key=csr.public_key, common_name=common_name, identifiers=order.identifiers,
                    requester=Requester(RequesterKind.ACME_ACCOUNT, account.id), provisioner=provisioner.ref,
                    claims=provisioner.claims, validity=Validity(order.not_before, order.not_after),
                    profile=certificate_profile(provisioner, order),
                    acme_account_id=account.id, acme_order_id=order.id, acme_eab_key_id=account.eab_key_id,
                )
            )
        except (BadCSR, BadPublicKey) as exc:
            # The CSR was at fault (e.g. its key is blocked), not the order: back to ready for another CSR.
            await self._settle(order, OrderStatus.READY)
            raise BadCSR(exc.detail) from None
        except ServiceUnavailable:
            # The database is away, not the order at fault: it stays processing and its job is resumed later.
            raise
        except CAError as exc:
            await self._settle(order, OrderStatus.INVALID, error=summary_json(ErrorSummary.of(exc)))
            raise
        settled = await self._settle_issued(order, issued.serial)
        if settled is None:  # another attempt settled the order first; its outcome stands
            log.warning("finalize settled by another attempt; this certificate is not the order's",
                        extra={"order": order.id, "serial": issued.serial})
            return await self._orders.order(account, order.id)
        return settled

    async def _settle_issued(self, order: OrderRecord, serial: str) -> OrderRecord | None:
        settled = await self._settle(order, OrderStatus.VALID, serial=serial)
        if settled is not None and self._renewals is not None:
            await self._renewals.mark_replaced(order.replaces, order.id)
        return settled

    async def _settle(
        self, order: OrderRecord, status: OrderStatus, *, error: dict[str, Any] | None = None,
        serial: str | None = None,
    ) -> OrderRecord | None:
        """Leave ``processing`` and drop the job in one transaction; the order as now stored, or None if it
        had already left ``processing`` (the compare-and-set lets only one attempt apply its result)."""
        now = self._clock.now()
        async with self._db.write_one() as tx:  # one statement on PostgreSQL (acme_moves.settle_order)
            moved = await acme_moves.settle_order(
                tx, order.id, status=status, now=now, job_kind=FINALIZE_JOB, error=error, certificate_serial=serial
            )
        if not moved:
            return None
        return replace(order, status=status, updated_at=now, error=error, certificate_serial=serial)

    async def resume(self, job: JobRecord) -> None:
        """Worker entry point: finish a finalize whose process went away before settling it."""
        async with self._db.read() as tx:
            order = await acme_orders.order_by_id(tx, job.subject_id)
            account = await acme_accounts.by_id(tx, order.account_id) if order else None
        if order is None or account is None or order.status is not OrderStatus.PROCESSING:
            async with self._db.write() as tx:
                await jobs.finish(tx, job.id, owner=self._owner)
            return
        async with self._db.read() as tx:
            already = await certificates.issued_for_order(tx, order.id)
        if already is not None:  # the process died between storing the certificate and settling the order
            await self._settle_issued(order, already)
            return
        provisioner = await self._provisioners.by_id(order.provisioner_id)
        csr_der = b64url_decode(str(job.payload.get("csr", "")), allow_padding=True)  # older releases padded
        try:
            csr, common_name = check_csr(csr_der, order, account)
            await self._issue(provisioner, account, order, csr, common_name)
        except CAError:
            log.info("resumed finalize refused", extra={"order": order.id})

    async def abandon(self, job: JobRecord) -> None:
        """A finalize that kept failing: the order becomes invalid with the failure recorded."""
        async with self._db.read() as tx:
            order = await acme_orders.order_by_id(tx, job.subject_id)
        if order is not None:
            error = summary_json(ErrorSummary.of(CAError("the certificate could not be issued")))
            await self._settle(order, OrderStatus.INVALID, error=error)
        async with self._db.write() as tx:
            await jobs.finish(tx, job.id, owner=self._owner)


def _outcome(result: OrderRecord | CAError) -> OrderRecord:
    if isinstance(result, CAError):
        raise result
    return result
