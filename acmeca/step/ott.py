"""One-time token verification (step-ca §2.1–2.4, §2.8): audience, provisioner, signature, time, replay.

The checks common to every token type live here once; only the signature check differs per provisioner.
Replay protection is a row in the database (``used_tokens``), so a token is accepted once across restarts and
replicas, which is also why step-ca's "issued before the CA started" refusal is not needed. A restore from a
backup loses the rows written after the backup, so tokens issued (``iat``, else ``nbf``) before the restore
time ``acmeca db restore`` stores are refused instead; every replica reads that time from the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from acmeca.crypto import certs
from acmeca.domain.clock import Clock
from acmeca.domain.errors import CAError, Unauthenticated
from acmeca.engine.catalog import PerEntry, ProvisionerCatalog, ProvisionerEntry
from acmeca.step.jwt import CompactJWS, parse_compact
from acmeca.step.provisioners import InvalidProvisioner, TokenEvidence, TokenProvisioner, token_provisioner
from acmeca.step.provisioners.third_party import ThirdPartyAuthorizer
from acmeca.step.provisioners.x5c import decode_x5c, verify_x5c_token
from acmeca.store import restore, used_tokens
from acmeca.store.database import Database
from acmeca.store.transaction import Transaction

log = logging.getLogger(__name__)
LEEWAY = timedelta(minutes=1)
# step's CLI mints one-time tokens valid for five minutes. step-ca 0.19 accepts any lifetime; a token good for a
# year is a bearer credential for that long, so acmeca refuses lifetimes above this (docs/step-compatibility.md).
MAX_TOKEN_LIFETIME = timedelta(hours=1)
LEGACY_AUDIENCE = "step-certificate-authority"
RENEW_ISSUER = "step-ca-client/1.0"
SWEEP_INTERVAL = timedelta(minutes=10)
# How long a process trusts its copy of the restore time: one small read per minute at most. A restore needs
# every server stopped (acmeca.store.file_lock), so a restarted one reads the new time on its first token.
RESTORE_MARK_TTL = 60.0


class Purpose(StrEnum):
    SIGN = "sign"
    REVOKE = "revoke"
    RENEW = "renew"


_PATHS = {
    Purpose.SIGN: ("/1.0/sign", "/sign", "/1.0/ssh/sign", "/ssh/sign"),
    Purpose.REVOKE: ("/1.0/revoke", "/revoke"),
    Purpose.RENEW: ("/1.0/renew", "/renew"),
}


def ca_audiences(dns_names: Iterable[str], purpose: Purpose) -> frozenset[str]:
    """Every audience the CA answers to for ``purpose`` (IPv6 names bracketed; legacy literal for sign/revoke)."""
    accepted: set[str] = set()
    for name in dns_names:
        host = f"[{name}]" if ":" in name and not name.startswith("[") else name
        accepted.update(f"https://{host}{path}" for path in _PATHS[purpose])
    if purpose is not Purpose.RENEW:
        accepted.add(LEGACY_AUDIENCE)
    return frozenset(accepted)


def _without_port(audience: str) -> str:
    try:
        parts = urlsplit(audience)
        host = parts.hostname
    except ValueError:
        return audience
    if not parts.scheme or host is None:
        return audience
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{parts.path}"


def audiences_of(claims: dict[str, Any]) -> list[str]:
    value = claims.get("aud")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return []


def audience_matches(given: Sequence[str], accepted: frozenset[str]) -> bool:
    """Exact, or equal once the port is stripped; the ``#fragment`` only routes, it never matches."""
    stripped = {_without_port(a) for a in accepted}
    for audience in given:
        bare = audience.split("#", 1)[0]
        if bare in accepted or _without_port(bare) in stripped:
            return True
    return False


def _timestamp(claims: dict[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthenticated(f"invalid token: {name} is not a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise Unauthenticated(f"invalid token: {name} is out of range") from None


def check_times(claims: dict[str, Any], now: datetime, leeway: timedelta = LEEWAY) -> datetime:
    """nbf/exp/iat with step-ca's one-minute leeway; returns ``exp`` (when the replay row may go)."""
    expires = _timestamp(claims, "exp")
    if expires is None:
        raise Unauthenticated("invalid token: missing expiration (exp)")
    if now - leeway > expires:
        raise Unauthenticated("invalid token: token is expired (exp)")
    not_before = _timestamp(claims, "nbf")
    if not_before is not None and now + leeway < not_before:
        raise Unauthenticated("invalid token: token not valid yet (nbf)")
    issued = _timestamp(claims, "iat")
    if issued is not None and now + leeway < issued:
        raise Unauthenticated("invalid token: token issued in the future (iat)")
    return expires


def check_lifetime(claims: dict[str, Any], expires: datetime, now: datetime) -> None:
    """A token may be good for MAX_TOKEN_LIFETIME at most, counted from nbf (else iat, else now)."""
    start = _timestamp(claims, "nbf") or _timestamp(claims, "iat") or now
    if expires - start > MAX_TOKEN_LIFETIME + LEEWAY:
        raise Unauthenticated("invalid token: its lifetime (exp - nbf) is longer than one hour")


def check_root_fingerprint(claims: dict[str, Any], fingerprints: frozenset[str]) -> None:
    """step's CLI writes the SHA-256 of the root it trusts into ``sha``; a token for another CA is refused.

    Tokens without the claim (other clients) are accepted, as step-ca accepts them."""
    value = claims.get("sha")
    if value is None:
        return
    if not isinstance(value, str) or value.lower().replace(":", "") not in fingerprints:
        raise Unauthenticated("invalid token: the root fingerprint (sha) is not one of this CA's roots")


def reuse_key(token: CompactJWS) -> str:
    """step-ca's replay key for JWK/X5C tokens: ``jti``, else the SHA-256 of the whole token."""
    jti = token.claims.get("jti")
    if isinstance(jti, str) and jti:
        return "jti:" + hashlib.sha256(jti.encode()).hexdigest()
    return "sha:" + hashlib.sha256(token.raw.encode()).hexdigest()


@dataclass(frozen=True)
class AuthorizedToken:
    """A token that passed every check; ``claims`` is now trustworthy."""

    provisioner: TokenProvisioner
    claims: dict[str, Any]
    evidence: TokenEvidence

    @property
    def subject(self) -> str:
        return str(self.claims.get("sub") or "")


@dataclass(frozen=True)
class TokenSpend:
    """The replay-table row a checked token still has to write: nothing may be done on the token's authority
    until one of the two methods has returned.

    ``within`` lets the token's row commit with the caller's own first write (the sign path: the certificate's
    serial reservation), so a request costs one write transaction less. Either way the token is spent before
    anything is issued: the reservation and the spend commit together or not at all, and a second request with
    the same token finds the row (SQLite serialises write transactions; PostgreSQL's unique index makes the
    second INSERT wait for the first transaction) and is refused with nothing reserved. When the caller's
    transaction fails for another reason (an outage), the token stays unspent, as nothing was reserved on it.
    """

    db: Database | None
    key: str
    kind: str
    keep_until: datetime

    async def within(self, tx: Transaction) -> None:
        """Spend in ``tx``; raises Unauthenticated (the caller's transaction then rolls back) when already used."""
        if self.db is None:
            return
        if not await used_tokens.spend(tx, self.key, kind=self.kind, expires_at=self.keep_until):
            raise Unauthenticated("token already used")

    async def alone(self) -> None:
        """Spend in a write transaction of its own."""
        if self.db is None:
            return
        async with self.db.write() as tx:
            await self.within(tx)


NO_SPEND = TokenSpend(None, "", "", datetime.min.replace(tzinfo=UTC))  # a grant without a reuse key (K8sSA)


@dataclass(frozen=True)
class RenewToken:
    leaf: x509.Certificate
    claims: dict[str, Any]


class TokenVerifier:
    def __init__(
        self,
        *,
        catalog: ProvisionerCatalog,
        dns_names: Sequence[str],
        roots: Sequence[x509.Certificate],
        db: Database,
        clock: Clock,
    ) -> None:
        self._catalog = catalog
        # Verifiers parse keys and roots: built once per provisioner change, not once per request.
        self._verifiers = PerEntry(token_provisioner, on_failure=_skipped)
        self._dns_names = tuple(dns_names)
        self._roots = tuple(roots)
        self._root_fingerprints = frozenset(certs.sha256_fingerprint(root) for root in self._roots)
        self._db = db
        self._clock = clock
        self._third_party = ThirdPartyAuthorizer(clock)  # OIDC and K8sSA tokens (their own lookup rules)
        self._restored_at: tuple[float, datetime | None] | None = None  # (monotonic read time, value)

    async def provisioners(self) -> list[TokenProvisioner]:
        """Every provisioner that takes tokens; a broken document is logged and skipped, never fatal."""
        found: list[TokenProvisioner] = []
        for entry in await self._catalog.all():
            try:
                provisioner = self._verifiers.get(entry)
            except InvalidProvisioner:
                continue
            if provisioner is not None:
                found.append(provisioner)
        return found

    async def authorize(self, raw: str, purpose: Purpose) -> AuthorizedToken:
        """Every check of §2.1–2.4, in step-ca's order; the token is spent only when all of them pass."""
        token, spend = await self.authorize_unspent(raw, purpose)
        await spend.alone()
        return token

    async def authorize_unspent(self, raw: str, purpose: Purpose) -> tuple[AuthorizedToken, TokenSpend]:
        """:meth:`authorize` without the final write: the caller spends the token, in its own write transaction
        (:meth:`TokenSpend.within`) or alone (:meth:`TokenSpend.alone`), before it acts on the token."""
        token = parse_compact(raw)
        grant = await self._third_party.authorize(token, await self._catalog.all(), purpose=purpose.value)
        if grant is not None:
            spend = NO_SPEND
            if grant.reuse_key is not None:
                spend = await self._pending(grant.reuse_key, purpose, grant.expires, grant.claims)
            authorized = AuthorizedToken(provisioner=grant.provisioner, claims=grant.claims, evidence=TokenEvidence())
            return authorized, spend
        provisioner = await self._lookup(token, purpose)
        now = self._clock.now()
        evidence = provisioner.verify(token, now=now)
        if token.claims.get("iss") != provisioner.ref.name:
            raise Unauthenticated("invalid token: invalid issuer claim (iss)")
        expires = check_times(token.claims, now)
        check_lifetime(token.claims, expires, now)
        check_root_fingerprint(token.claims, self._root_fingerprints)
        if not token.claims.get("sub") or not isinstance(token.claims.get("sub"), str):
            raise Unauthenticated("invalid token: subject cannot be empty")
        spend = await self._pending(reuse_key(token), purpose, expires, token.claims)
        return AuthorizedToken(provisioner=provisioner, claims=token.claims, evidence=evidence), spend

    async def _lookup(self, token: CompactJWS, purpose: Purpose) -> TokenProvisioner:
        audiences = audiences_of(token.claims)
        if audience_matches(audiences, ca_audiences(self._dns_names, purpose)):
            fragments = [a.split("#", 1)[1] for a in audiences if "#" in a]
            wanted = fragments[0] if fragments else f"{token.claims.get('iss')}:{token.header.get('kid')}"
            for provisioner in await self.provisioners():
                if provisioner.token_id == wanted:
                    return provisioner
        shown = ", ".join(audiences) or "none"
        raise Unauthenticated(f"provisioner not found or invalid audience ({shown})")

    async def _pending(self, key: str, purpose: Purpose, expires: datetime, claims: dict[str, Any]) -> TokenSpend:
        await self._check_not_before_restore(claims)
        # The row must outlive the token's own acceptance window (exp + leeway); no later than datetime.max.
        keep_until = min(expires, datetime.max.replace(tzinfo=UTC) - LEEWAY) + LEEWAY
        return TokenSpend(self._db, key, f"ott-{purpose.value}", keep_until)

    async def _spend(self, key: str, purpose: Purpose, expires: datetime, claims: dict[str, Any]) -> None:
        await (await self._pending(key, purpose, expires, claims)).alone()

    async def _check_not_before_restore(self, claims: dict[str, Any]) -> None:
        """A token issued before the latest restore may have been spent in the history the restore erased."""
        restored = await self._restore_time()
        if restored is None:
            return
        issued = _timestamp(claims, "iat") or _timestamp(claims, "nbf")
        if issued is None or issued < restored:
            raise Unauthenticated("invalid token: issued before the CA's database was restored from a backup")

    async def _restore_time(self) -> datetime | None:
        cached = self._restored_at
        if cached is not None and time.monotonic() - cached[0] < RESTORE_MARK_TTL:
            return cached[1]
        async with self._db.read() as tx:
            value = await restore.restored_at(tx)
        self._restored_at = (time.monotonic(), value)
        return value

    async def sweep_forever(self) -> None:
        """Forget spent tokens once they have expired: the time check refuses them from then on."""
        while True:
            try:
                async with self._db.write() as tx:
                    removed = await used_tokens.sweep(tx, self._clock.now())
                if removed:
                    log.info("used tokens swept", extra={"removed": removed})
            except CAError as exc:
                log.warning("used token sweep failed", extra={"reason": exc.detail})
            await asyncio.sleep(SWEEP_INTERVAL.total_seconds())

    async def authorize_renew(self, raw: str) -> RenewToken:
        """A renew bearer token (§2.8); every failure reads "error validating renew token: ..."."""
        try:
            return await self._renew_token(raw)
        except CAError as exc:
            raise Unauthenticated(f"error validating renew token: {exc.detail}") from None

    async def _renew_token(self, raw: str) -> RenewToken:
        token = parse_compact(raw)
        leaf = decode_x5c(token.header, "x5cInsecure")[0]
        # Verified at notAfter − 1m, not now: an expired certificate may still prove possession of its key.
        verify_x5c_token(token, self._roots, at=leaf.not_valid_after_utc - LEEWAY, header="x5cInsecure")
        if token.claims.get("sub") != certs.common_name(leaf):
            raise Unauthenticated("invalid token: subject does not match the certificate")
        issuers = {RENEW_ISSUER}
        found = certs.provisioner_of(leaf)
        if found is not None:
            issuers.add(found[1])
        if token.claims.get("iss") not in issuers:
            raise Unauthenticated("invalid token: invalid issuer claim (iss)")
        expires = check_times(token.claims, self._clock.now())
        if not audience_matches(audiences_of(token.claims), ca_audiences(self._dns_names, Purpose.RENEW)):
            raise Unauthenticated("invalid token: invalid audience claim (aud)")
        digest = "sha:" + hashlib.sha256(token.raw.encode()).hexdigest()
        await self._spend(digest, Purpose.RENEW, expires, token.claims)
        return RenewToken(leaf=leaf, claims=token.claims)


def _skipped(entry: ProvisionerEntry, exc: Exception) -> None:
    log.warning("provisioner skipped", extra={"provisioner": entry.name, "reason": str(exc)})
