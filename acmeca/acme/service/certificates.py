"""Certificate download and revokeCert (RFC 8555 §7.4.2, §7.6).

Revocation is allowed to three parties: the account that ordered the certificate, an account holding valid
authorizations for every name in it, and whoever holds the certificate's private key (proved by signing the
request with it). Expired certificates cannot be revoked; unknown reasons are refused with the allowed list.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from acmeca.acme.service.finalize import public_key_thumbprint
from acmeca.acme.service.orders import OrderService
from acmeca.crypto.certs import der_to_pem, to_pem
from acmeca.domain.acme import AccountRecord
from acmeca.domain.clock import Clock
from acmeca.domain.errors import BadRevocationReason, Malformed, NotFound, Unauthorized
from acmeca.domain.records import CertificateRecord, Requester
from acmeca.domain.status import RequesterKind, RevocationReason
from acmeca.engine.issuer import IssuingEngine

ALLOWED_REASONS = (
    RevocationReason.UNSPECIFIED, RevocationReason.KEY_COMPROMISE, RevocationReason.AFFILIATION_CHANGED,
    RevocationReason.SUPERSEDED, RevocationReason.CESSATION_OF_OPERATION, RevocationReason.PRIVILEGE_WITHDRAWN,
)


@dataclass(frozen=True)
class Chain:
    """A PEM chain as served: leaf first, intermediates after, no root."""

    pem: str
    alternates: int  # how many alternate chains exist for Link rel="alternate"


def revocation_reason(value: object) -> RevocationReason:
    if value is None:
        return RevocationReason.UNSPECIFIED
    allowed = ", ".join(str(int(r)) for r in ALLOWED_REASONS)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRevocationReason(f"reason must be one of {allowed}")
    try:
        reason = RevocationReason(value)
    except ValueError:
        raise BadRevocationReason(f"reason {value} is not a CRL reason code; use one of {allowed}") from None
    if reason not in ALLOWED_REASONS:
        raise BadRevocationReason(f"reason {value} may not be requested; use one of {allowed}")
    return reason


class CertificateService:
    def __init__(self, clock: Clock, engine: IssuingEngine, orders: OrderService) -> None:
        self._clock = clock
        self._engine = engine
        self._orders = orders

    async def chain(self, account: AccountRecord, serial: str, index: int = 0) -> Chain:
        record = await self._engine.find_certificate(serial)
        if record is None or record.acme_account_id != account.id or not record.der:
            raise NotFound("no such certificate")
        retired = self._engine.authority.retired_chain(record.issuer_ski)
        if retired is not None:  # signed before a rotation: its own intermediate, which has no alternates
            if index != 0:
                raise NotFound("no such certificate chain")
            pem = der_to_pem(record.der) + "".join(to_pem(c) for c in retired)
            return Chain(pem=pem.replace("\r\n", "\n"), alternates=0)
        alternates = self._engine.alternate_chain_pems()  # read per request: SIGHUP may rotate the intermediate
        if index < 0 or index > len(alternates):
            raise NotFound("no such certificate chain")
        rest = self._engine.chain_pem() if index == 0 else alternates[index - 1]
        pem = der_to_pem(record.der) + "".join(rest)
        return Chain(pem=pem.replace("\r\n", "\n"), alternates=len(alternates))

    async def revoke(
        self, *, certificate_der: bytes, reason: object, account: AccountRecord | None, key_thumbprint: str | None
    ) -> CertificateRecord:
        wanted = revocation_reason(reason)
        try:
            certificate = x509.load_der_x509_certificate(certificate_der)
        except ValueError:
            raise Malformed("certificate is not a DER X.509 certificate") from None
        record = await self._engine.find_certificate(str(certificate.serial_number))
        if record is None or record.der != certificate_der:
            raise NotFound("this CA did not issue that certificate")
        if record.not_after <= self._clock.now():
            raise Unauthorized("the certificate has expired and cannot be revoked")
        revoked_by, forced = await self._authorize(record, certificate, account, key_thumbprint)
        return await self._engine.revoke(
            record.serial, reason=forced or wanted, note="ACME revokeCert", revoked_by=revoked_by
        )

    async def _authorize(
        self, record: CertificateRecord, certificate: x509.Certificate, account: AccountRecord | None,
        key_thumbprint: str | None,
    ) -> tuple[Requester | str, RevocationReason | None]:
        """Who revokes, and the reason Boulder forces for them.

        A request signed by the certificate key proves the key is out of its owner's hands: keyCompromise,
        which also blocks the key. An account that merely controls the names cannot know more than
        cessationOfOperation. The ordering account's own reason stands.
        """
        if account is None:
            if key_thumbprint and public_key_thumbprint(certificate.public_key()) == key_thumbprint:
                return "certificate-key", RevocationReason.KEY_COMPROMISE
            raise Unauthorized("the request is not signed by the certificate's key")
        if record.acme_account_id == account.id:
            return Requester(RequesterKind.ACME_ACCOUNT, account.id), None
        held = await self._orders.valid_identifiers(account)
        if record.identifiers and all(i.base in held for i in record.identifiers):
            return Requester(RequesterKind.ACME_ACCOUNT, account.id), RevocationReason.CESSATION_OF_OPERATION
        raise Unauthorized("this account may not revoke that certificate")
