"""The CRL (step-ca §1.4): generated from the database, numbered by a database counter, stored signed.

Every replica serves the stored bytes, so clients see one CRL whichever replica answers; the number comes from
a conditional UPDATE so two replicas generating at once still hand out distinct, increasing numbers, and the
store keeps only the newest. Generation happens on revocation (``generateOnRevoke``), on a timer (every
``renewPeriod`` or two thirds of ``cacheDuration``) and on demand when the stored one has expired.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography import x509

from acmeca.config import CRLConfig
from acmeca.crypto.certbuild import sign_crl
from acmeca.domain.clock import Clock
from acmeca.domain.errors import Conflict, NotFound, ServiceUnavailable
from acmeca.domain.records import CertificateRecord, RevokedEntry, StoredCRL
from acmeca.domain.status import RevocationReason
from acmeca.engine.trust import SigningAuthority
from acmeca.runtime import Runtime
from acmeca.store import certificates, crls
from acmeca.store.database import Database
from acmeca.store.restore import CRL_COUNTER_PREFIX

log = logging.getLogger(__name__)
# Revoked certificates stay listed until they have been expired this long (step-ca's grace).
EXPIRED_GRACE = timedelta(hours=1)
RETRY_AFTER_FAILURE = timedelta(seconds=30)
COUNTER_ATTEMPTS = 20
_REASONS = {
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.CA_COMPROMISE: x509.ReasonFlags.ca_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.CERTIFICATE_HOLD: x509.ReasonFlags.certificate_hold,
    RevocationReason.REMOVE_FROM_CRL: x509.ReasonFlags.remove_from_crl,
    RevocationReason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
    RevocationReason.AA_COMPROMISE: x509.ReasonFlags.aa_compromise,
}


def build_crl(
    authority: SigningAuthority, entries: list[RevokedEntry], *, number: int, now: datetime,
    next_update: datetime, idp_url: str,
) -> bytes:
    """Sign a CRL; pure and synchronous so it can run on the CPU executor."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                authority.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
        .add_extension(
            x509.IssuingDistributionPoint(
                full_name=[x509.UniformResourceIdentifier(idp_url)], relative_name=None,
                only_contains_user_certs=False, only_contains_ca_certs=False, only_some_reasons=None,
                indirect_crl=False, only_contains_attribute_certs=False,
            ),
            critical=True,
        )
    )
    for entry in entries:
        revoked = x509.RevokedCertificateBuilder().serial_number(int(entry.serial)).revocation_date(entry.revoked_at)
        reason = _REASONS.get(entry.reason)
        if reason is not None:  # RFC 5280 §5.3.1: omit the extension rather than say "unspecified"
            revoked = revoked.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    return sign_crl(builder, authority.key)


def crl_counter(ski: str) -> str:
    """The counter that numbers the CRLs of the intermediate ``ski`` (a restore moves it past a time floor)."""
    return CRL_COUNTER_PREFIX + ski


async def next_number(db: Database, counter: str) -> int:
    """Advance a counter, one write transaction per attempt; a lost race retries with the new value."""
    for _ in range(COUNTER_ATTEMPTS):
        async with db.write() as tx:
            number = await crls.advance_counter(tx, counter)
        if number is not None:
            return number
    raise Conflict(f"counter {counter} is too contended")


class CRLService:
    def __init__(
        self, *, config: CRLConfig, authority: Callable[[], SigningAuthority], db: Database, clock: Clock,
        runtime: Runtime, idp_url: str,
    ) -> None:
        self._config = config
        self._authority = authority  # the engine's current intermediate: SIGHUP may rotate it
        self._db = db
        self._clock = clock
        self._runtime = runtime
        self._idp_url = idp_url
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self._config.enabled

    @property
    def refresh_period(self) -> timedelta:
        return self._config.renew_period or self._config.cache_duration * 2 / 3

    async def generate(self) -> StoredCRL:
        """A new CRL with the next number, stored before it is returned."""
        async with self._lock:
            ski = self._authority().ski
            number = await next_number(self._db, crl_counter(ski))
            now = self._clock.now()
            async with self._db.read() as tx:
                entries = await certificates.revoked_since(tx, ski, now - EXPIRED_GRACE)
            next_update = now + self._config.cache_duration
            der = await self._runtime.run_cpu(
                build_crl, self._authority(), entries, number=number, now=now, next_update=next_update,
                idp_url=self._idp_url,
            )
            crl = StoredCRL(issuer_ski=ski, number=number, der=der, this_update=now, next_update=next_update)
            async with self._db.write() as tx:
                await crls.store(tx, crl)
            log.info("CRL generated", extra={"number": number, "entries": len(entries)})
            return crl

    async def _latest(self) -> StoredCRL | None:
        async with self._db.read() as tx:
            return await crls.latest(tx, self._authority().ski)

    async def current(self) -> StoredCRL:
        """The stored CRL, regenerated first when there is none or it has passed nextUpdate."""
        if not self.enabled:
            raise NotFound("Certificate Revocation Lists are not enabled")
        stored = await self._latest()
        if stored is None or stored.next_update <= self._clock.now():
            return await self.generate()
        return stored

    async def on_revocation(self, record: CertificateRecord) -> None:
        if self.enabled and self._config.generate_on_revoke:
            await self.generate()

    async def refresh_forever(self) -> None:
        """Keep a fresh CRL: regenerate when the stored one is older than the refresh period (any replica)."""
        while True:
            delay = self.refresh_period
            try:
                stored = await self._latest()
                age = self._clock.now() - stored.this_update if stored else None
                if age is None or age >= self.refresh_period:
                    await self.generate()
                else:
                    delay = self.refresh_period - age
            except ServiceUnavailable:  # the store logged the outage; a traceback every retry would be noise
                log.debug("CRL refresh postponed: the database is unavailable")
                delay = RETRY_AFTER_FAILURE
            except Exception:
                log.exception("CRL generation failed; retrying")
                delay = RETRY_AFTER_FAILURE
            await asyncio.sleep(max(delay.total_seconds(), 1.0))
