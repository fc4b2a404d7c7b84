"""The step-style token API without HTTP: sign, renew, rekey, revoke and the CRL, all through the engine.

Every check runs before the engine is called, in step-ca's order (§1.4), so a refused request has issued,
revoked and stored nothing beyond the spent token.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cryptography import x509

from acmeca.crypto import certs
from acmeca.crypto.csr import InvalidCSR, ParsedCSR, parse_csr_pem
from acmeca.domain.claims import Claims
from acmeca.domain.clock import Clock
from acmeca.domain.durations import parse_time_or_duration
from acmeca.domain.encoding import rfc3339
from acmeca.domain.errors import Forbidden, Malformed, NotFound, NotImplementedYet, Unauthenticated
from acmeca.domain.records import CertificateRecord, Requester, StoredCRL
from acmeca.domain.status import RequesterKind, RevocationReason
from acmeca.engine.catalog import ProvisionerCatalog, ProvisionerEntry
from acmeca.engine.crl import CRLService
from acmeca.engine.issuer import IssuingEngine, parse_serial_or_malformed
from acmeca.engine.requests import IssuanceRequest, IssuedCertificate, Validity
from acmeca.engine.validity import requested_time
from acmeca.step.ott import AuthorizedToken, Purpose, TokenVerifier
from acmeca.step.provisioners.third_party import CSR_SANS, csr_claims
from acmeca.step.requests import RevokeRequest, SignRequest
from acmeca.step.sans import TokenSANs, check_csr_against_token

__all__ = ["IssuedCertificate", "RevokeRequest", "SignRequest", "StepService"]


def parse_csr_or_malformed(pem: str | None) -> ParsedCSR:
    if not pem:
        raise Malformed("missing csr")
    try:
        return parse_csr_pem(pem)
    except InvalidCSR:
        raise Malformed("invalid csr") from None


class StepService:
    def __init__(
        self, *, engine: IssuingEngine, verifier: TokenVerifier, catalog: ProvisionerCatalog,
        crl: CRLService, clock: Clock,
    ) -> None:
        self._engine = engine
        self._verifier = verifier
        self._catalog = catalog
        self._crl = crl
        self._clock = clock

    @property
    def verifier(self) -> TokenVerifier:
        return self._verifier

    async def sign(self, request: SignRequest) -> IssuedCertificate:
        """POST /1.0/sign: csr → ott → token (401) → CSR/token agreement and durations (403) → engine.

        The token is spent in the transaction that reserves the certificate's serial (one write transaction
        less per certificate). A request refused after the token checks spends it on its own first, so a
        refused token is spent exactly as before and a replayed one is still told "token already used"."""
        csr = parse_csr_or_malformed(request.csr)
        if not request.ott:
            raise Malformed("missing ott")
        token, spend = await self._verifier.authorize_unspent(request.ott, Purpose.SIGN)
        try:
            prepared = await self._engine.prepare(self._sign_request(request, csr, token))
        except Exception:
            await spend.alone()  # a token used before is refused as such, as when the spend came first
            raise
        return await self._engine.issue_prepared(prepared, with_reservation=spend.within)

    def _sign_request(self, request: SignRequest, csr: ParsedCSR, token: AuthorizedToken) -> IssuanceRequest:
        if token.claims.get(CSR_SANS):  # K8sSA and OIDC admins: CN and SANs come from the CSR
            token = replace(token, claims=csr_claims(token.claims, csr))
        sans = TokenSANs.from_claims(token.claims)
        check_csr_against_token(csr, token.subject, sans, token.claims.get("cnf"))
        validity = self._validity(request, token)
        ref = token.provisioner.ref
        return IssuanceRequest(
            public_key=csr.public_key, common_name=token.subject, identifiers=sans.identifiers(),
            emails=sans.emails, uris=sans.uris, requester=Requester(RequesterKind.PROVISIONER, ref.id),
            provisioner=ref, claims=token.provisioner.claims, validity=validity,
        )

    def _validity(self, request: SignRequest, token: AuthorizedToken) -> Validity:
        now = self._clock.now()
        not_before = _requested(request.not_before, "notBefore", now)
        not_after = _requested(request.not_after, "notAfter", not_before or now)  # a duration counts from nb
        leaf = token.evidence.leaf
        if leaf is not None:  # X5C: never outlive the certificate that authorized the request
            limit = leaf.not_valid_after_utc
            start = not_before or now
            default = token.provisioner.claims.default_duration
            wanted = not_after or (limit if limit - start < default else start + default)  # no overflow
            not_after = min(wanted, limit)
        return Validity(not_before=not_before, not_after=not_after)

    async def renew(self, *, peer: bytes | None, bearer: str | None) -> IssuedCertificate:
        """POST /1.0/renew: the mTLS client certificate, else a bearer renew token (§2.8)."""
        if peer is not None:
            leaf = x509.load_der_x509_certificate(peer)
        elif bearer:
            leaf = (await self._verifier.authorize_renew(bearer)).leaf
        else:
            raise Malformed("missing client certificate")
        return await self._reissue(leaf, None)

    async def rekey(self, *, peer: bytes | None, csr_pem: str | None) -> IssuedCertificate:
        """POST /1.0/rekey: renew with the CSR's key; mTLS only."""
        if peer is None:
            raise Malformed("missing client certificate")
        csr = parse_csr_or_malformed(csr_pem)
        return await self._reissue(x509.load_der_x509_certificate(peer), csr)

    async def _reissue(self, leaf: x509.Certificate, csr: ParsedCSR | None) -> IssuedCertificate:
        record = await self._engine.find_certificate(str(leaf.serial_number))
        if record is None or record.der != certs.to_der(leaf):
            raise Unauthenticated("certificate was not issued by this authority")
        if record.is_revoked:
            raise Unauthenticated("certificate has been revoked")
        entry, claims = await self._renewal_claims(record)
        now = self._clock.now()
        if claims.disable_renewal:
            raise Unauthenticated(f"renew is disabled for provisioner '{entry.name}'")
        if now < leaf.not_valid_before_utc:
            raise Unauthenticated(f"certificate is not yet valid until {rfc3339(leaf.not_valid_before_utc)}")
        if now > leaf.not_valid_after_utc and not claims.allow_renewal_after_expiry:
            raise Unauthenticated(f"certificate expired on {rfc3339(leaf.not_valid_after_utc)}")
        lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
        # The lifetime is inherited, not requested: widen the duration claims so it always fits.
        claims = replace(claims, min_duration=min(claims.min_duration, lifetime),
                         max_duration=max(claims.max_duration, lifetime))
        base = IssuanceRequest(
            public_key=csr.public_key if csr else leaf.public_key(),
            common_name=record.common_name, identifiers=record.identifiers, emails=_sans(leaf, x509.RFC822Name),
            uris=_sans(leaf, x509.UniformResourceIdentifier), requester=Requester(RequesterKind.RENEWAL, record.serial),
            provisioner=entry.ref, claims=claims,
        )
        return await self._engine.issue(await self._engine.renewal_request(record, base))

    async def _renewal_claims(self, record: CertificateRecord) -> tuple[ProvisionerEntry, Claims]:
        if not record.provisioner_id:
            raise Unauthenticated("certificate was not issued through a provisioner")
        try:
            entry = await self._catalog.by_id(record.provisioner_id)
        except NotFound:
            raise Unauthenticated(f"provisioner '{record.provisioner_name}' not found") from None
        return entry, entry.claims

    async def revoke(self, request: RevokeRequest, *, peer: bytes | None) -> None:
        """POST /1.0/revoke (passive only): by a revoke token whose subject is the serial, or by the cert itself."""
        if not request.serial:
            raise Malformed("missing serial")
        serial = parse_serial_or_malformed(request.serial)
        if not 0 <= request.reason_code <= 10:
            raise Malformed("reasonCode out of bounds")
        try:
            reason = RevocationReason(request.reason_code)
        except ValueError:
            raise Malformed(f"reasonCode {request.reason_code} is not an assigned reason") from None
        if not request.passive:
            raise NotImplementedYet("non-passive revocation not implemented")
        revoked_by = await self._revoker(request, serial, peer)
        await self._engine.revoke(serial, reason=reason, note=request.reason, revoked_by=revoked_by)

    async def _revoker(self, request: RevokeRequest, serial: str, peer: bytes | None) -> Requester:
        if request.ott:
            token = await self._verifier.authorize(request.ott, Purpose.REVOKE)
            try:
                subject = parse_serial_or_malformed(token.subject)
            except Malformed:
                subject = token.subject
            if subject != serial:
                raise Forbidden(
                    f"request serial number {serial} and token subject {token.subject} do not match"
                )
            return Requester(RequesterKind.PROVISIONER, token.provisioner.ref.id)
        if peer is not None:
            leaf = x509.load_der_x509_certificate(peer)
            if str(leaf.serial_number) != serial:
                raise Forbidden("serial number in client certificate different than body")
            return Requester(RequesterKind.RENEWAL, serial)
        raise Malformed("missing ott or client certificate")

    async def crl(self) -> StoredCRL:
        return await self._crl.current()


def _requested(text: str, name: str, base: datetime) -> datetime | None:
    """A TimeDuration of step-ca: "" and Go's zero time are unset; a duration is relative to ``base``."""
    if not text:
        return None
    try:
        return requested_time(parse_time_or_duration(text, now=base), name)
    except OverflowError:
        raise Malformed(f"{name} {text!r} is out of range") from None


SANType = type[x509.RFC822Name] | type[x509.UniformResourceIdentifier]


def _sans(leaf: x509.Certificate, kind: SANType) -> tuple[str, ...]:
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(str(v) for v in names.get_values_for_type(kind))

