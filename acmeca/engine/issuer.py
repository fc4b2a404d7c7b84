"""THE issuing engine: every certificate acmeca signs is made by :meth:`IssuingEngine.issue`.

The cycle, in order (docs/issuance-cycle.md has the why of each step):
key policy → known-weak keys (badkeys) → blocked keys → name policy → validity from claims → serial reserved
in the store → lint a copy signed by a throw-away key, then sign for real (one call off the event loop) →
store the DER → audit line. Revocation lives here too, so one place owns a certificate's life.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from cryptography import x509

from acmeca.config.issuance import LintMode
from acmeca.crypto import certs
from acmeca.crypto.certbuild import CertificateTemplate, certificate_der
from acmeca.crypto.keypolicy import KeyRejected, check_public_key
from acmeca.crypto.keys import PublicKey, signs_in_microseconds, spki_sha256
from acmeca.crypto.weakkeys import WeakKey, WeakKeyChecker
from acmeca.domain.clock import Clock
from acmeca.domain.errors import BadCSR, BadPublicKey, Malformed
from acmeca.domain.records import CertificateRecord, Requester, Reservation, Revocation
from acmeca.domain.status import RevocationReason
from acmeca.engine.audit import record_issued, record_revoked
from acmeca.engine.requests import IssuanceRequest, IssuedCertificate
from acmeca.engine.serials import new_serial
from acmeca.engine.signing import LintingSigner
from acmeca.engine.templates import leaf_template
from acmeca.engine.trust import SigningAuthority
from acmeca.engine.validity import ResolvedValidity, resolve_validity
from acmeca.runtime import Runtime
from acmeca.store import certificates
from acmeca.store.database import Database
from acmeca.store.transaction import Transaction

log = logging.getLogger(__name__)
MAX_COMMON_NAME = 64  # RFC 5280 ub-common-name


class NamePolicy(Protocol):
    """Checks every name of a request against the configured allow/deny rules; raises to refuse."""

    async def check(self, request: IssuanceRequest) -> None: ...


RevocationListener = Callable[[CertificateRecord], Awaitable[None]]
ReservationWork = Callable[[Transaction], Awaitable[None]]


@dataclass(frozen=True)
class PreparedIssuance:
    """A request that passed every check, with its serial and template, not yet reserved or signed. It keeps
    the authority it was prepared for, so a SIGHUP rotation between the two steps cannot mix two issuers."""

    request: IssuanceRequest
    authority: SigningAuthority
    serial: int
    validity: ResolvedValidity
    template: CertificateTemplate
    reservation: Reservation


class IssuingEngine:
    def __init__(
        self,
        *,
        authority: SigningAuthority,
        db: Database,
        clock: Clock,
        runtime: Runtime,
        backdate: timedelta,
        name_policy: NamePolicy,
        crl_urls: tuple[str, ...] = (),
        weak_keys: WeakKeyChecker | None = None,
        lint_mode: Callable[[], LintMode] = lambda: LintMode.ENFORCE,
    ) -> None:
        """``lint_mode`` is read at each issuance, so a SIGHUP that changes ca.json's ``lint.mode`` applies."""
        self._authority = authority
        self._db = db
        self._clock = clock
        self._runtime = runtime
        self._backdate = backdate
        self._crl_urls = crl_urls
        self._name_policy = name_policy
        self._revocation_listeners: list[RevocationListener] = []
        self._weak_keys = weak_keys or WeakKeyChecker()
        self._lint_mode = lint_mode
        self._signer = LintingSigner()

    @property
    def authority(self) -> SigningAuthority:
        return self._authority

    @property
    def backdate(self) -> timedelta:
        """How far a defaulted notBefore is set before now (ca.json ``authority.backdate``)."""
        return self._backdate

    def replace_authority(self, authority: SigningAuthority) -> None:
        """A rotated intermediate (SIGHUP): the next certificate is signed by it."""
        self._authority = authority

    def on_revocation(self, listener: RevocationListener) -> None:
        self._revocation_listeners.append(listener)

    def chain_pem(self) -> tuple[str, ...]:
        return self._authority.chain_pem

    def intermediates(self) -> tuple[x509.Certificate, ...]:
        """The intermediates to publish: the signing chain and, until they expire, the retired ones."""
        return self._authority.served_intermediates(self._clock.now())

    def alternate_chain_pems(self) -> tuple[tuple[str, ...], ...]:
        """Each alternate chain above our leaves (leaf excluded), in ca.json order."""
        return tuple(tuple(certs.to_pem(c) for c in chain) for chain in self._authority.alternate_chains)

    async def issue(self, request: IssuanceRequest) -> IssuedCertificate:
        """The whole cycle: :meth:`prepare`, then :meth:`issue_prepared`."""
        return await self.issue_prepared(await self.prepare(request))

    async def prepare(self, request: IssuanceRequest) -> PreparedIssuance:
        """Every check that can refuse the request, and the template to sign; nothing is written."""
        await self._check_key(request)
        if request.common_name and len(request.common_name) > MAX_COMMON_NAME and not request.subject_override:
            raise BadCSR(f"common name is longer than {MAX_COMMON_NAME} characters")
        await self._name_policy.check(request)
        authority, now = self._authority, self._clock.now()
        validity = resolve_validity(
            request.validity, request.claims, now=now, backdate=self._backdate,
            default=request.profile.validity,
            issuer_not_after=authority.certificate.not_valid_after_utc,
        )
        serial = new_serial()
        template = leaf_template(request, serial=serial, validity=validity, crl_urls=self._crl_urls)
        reservation = Reservation(
            serial=str(serial), issuer_ski=authority.ski, spki_sha256=spki_sha256(request.public_key),
            common_name=None if request.profile.omit_common_name else request.common_name,
            identifiers=request.identifiers, profile=request.profile.name, requester=request.requester,
            provisioner_id=request.provisioner.id if request.provisioner else None,
            provisioner_name=request.provisioner.name if request.provisioner else None,
            not_before=validity.not_before, not_after=validity.not_after, created_at=now,
            acme_account_id=request.acme_account_id, acme_order_id=request.acme_order_id,
            renewed_from=request.renewed_from,
        )
        return PreparedIssuance(request, authority, serial, validity, template, reservation)

    async def issue_prepared(
        self, prepared: PreparedIssuance, *, with_reservation: ReservationWork | None = None
    ) -> IssuedCertificate:
        """Reserve the serial, sign, store, audit. Three transactions: the serial is persisted before signing,
        and nothing holds a write transaction (SQLite's one writer) while the certificate is signed.

        ``with_reservation`` runs first in the reservation's transaction and may refuse the issuance by raising,
        which rolls the reservation back (the step API spends its one-time token there)."""
        request, authority, serial = prepared.request, prepared.authority, prepared.serial
        async with self._db.write() as tx:
            if with_reservation is not None:
                await with_reservation(tx)
            await certificates.reserve(tx, prepared.reservation)
        mode = self._lint_mode()
        sign = functools.partial(
            self._signer.sign, prepared.template, authority.certificate, authority.key, mode=mode,
            cabf=request.profile.lint_cabf,
        )
        try:
            # Unlinted ECDSA/Ed25519 signing (~0.3 ms with the build) costs less CPU than the thread hop;
            # pkilint (milliseconds) and RSA signatures stay off the event loop.
            inline = mode is LintMode.OFF and signs_in_microseconds(authority.key)
            certificate = sign() if inline else await self._runtime.run_cpu(sign)
        except Exception:
            async with self._db.write() as tx:
                await certificates.fail(tx, str(serial))
            raise
        der = certificate_der(certificate)
        async with self._db.write() as tx:
            await certificates.complete(tx, str(serial), der)
        record_issued(request, serial, prepared.validity)
        return self._issued(certificate, der, authority)

    def _issued(self, certificate: x509.Certificate, der: bytes, authority: SigningAuthority) -> IssuedCertificate:
        leaf = certs.to_pem(certificate)
        return IssuedCertificate(
            serial=str(certificate.serial_number), leaf_pem=leaf, chain_pem=(leaf, *authority.chain_pem),
            not_before=certificate.not_valid_before_utc, not_after=certificate.not_valid_after_utc, der=der,
        )

    async def _check_key(self, request: IssuanceRequest) -> None:
        try:
            check_public_key(request.public_key)
        except KeyRejected as exc:
            raise BadPublicKey(str(exc)) from None
        weak = await self._weak_verdict(request.public_key)
        if weak is not None:
            raise BadPublicKey(weak.reason)
        async with self._db.read() as tx:
            blocked = await certificates.is_key_blocked(tx, spki_sha256(request.public_key))
        if blocked:
            raise BadPublicKey("the public key is blocked because it was reported compromised")

    async def _weak_verdict(self, key: PublicKey) -> WeakKey | None:
        """badkeys' verdict: a cached one inline, a new one on the executor (~0.5 ms for RSA-2048, and the
        first call imports badkeys); none for an EC or Ed25519 key unless a blocklist is configured."""
        if not self._weak_keys.applies_to(key):
            return None
        found, verdict = self._weak_keys.cached_verdict(key)
        if found:
            return verdict
        return await self._runtime.run_cpu(self._weak_keys.verdict, key)

    async def renewal_request(self, old: CertificateRecord, base: IssuanceRequest) -> IssuanceRequest:
        """Carry the old certificate's subject and lifetime into ``base`` (step-ca renew semantics)."""
        certificate = x509.load_der_x509_certificate(old.der)
        lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
        now = self._clock.now()
        start = now - self._backdate
        return replace(
            base,
            subject_override=certificate.subject,
            renewed_from=old.serial,
            validity=replace(base.validity, not_before=start, not_after=start + lifetime),
        )

    async def certificate(self, serial: str) -> CertificateRecord:
        async with self._db.read() as tx:
            return await certificates.by_serial(tx, serial)

    async def find_certificate(self, serial: str) -> CertificateRecord | None:
        async with self._db.read() as tx:
            return await certificates.find(tx, serial)

    async def revoke(
        self, serial: str, *, reason: RevocationReason, note: str, revoked_by: Requester | str
    ) -> CertificateRecord:
        now = self._clock.now()
        revocation = Revocation(revoked_at=now, reason=reason, note=note, revoked_by=str(revoked_by))
        async with self._db.write() as tx:
            await certificates.revoke(tx, serial, revocation)
        record = await self.certificate(serial)
        if reason is RevocationReason.KEY_COMPROMISE:
            async with self._db.write() as tx:
                await certificates.block_key(tx, record.spki_sha256, at=now, source=f"revocation of {serial}")
        record_revoked(record, reason=reason, note=note, revoked_by=revoked_by)
        for listener in self._revocation_listeners:
            try:
                await listener(record)
            except Exception:
                log.exception("revocation listener failed", extra={"serial": serial})
        return record


def parse_serial_or_malformed(text: str) -> str:
    from acmeca.engine.serials import canonical_serial

    try:
        return canonical_serial(text)
    except ValueError as exc:
        raise Malformed(str(exc)) from None

