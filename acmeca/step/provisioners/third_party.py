"""Tokens minted by someone other than the CA (OIDC identity providers, Kubernetes): routing and verification.

step-ca finds these provisioners differently from JWK/X5C ones (stepca.md §2.3): ``iss`` equal to
``kubernetes/serviceaccount`` selects the K8sSA provisioner; otherwise ``azp``, or the audience, names an
OIDC client id. A verified token is translated into the claims the sign path already understands
(``iss`` = provisioner name, ``sub``, ``sans``), or marked :data:`CSR_SANS` when the certificate takes its
CN and SANs from the CSR (upstream's admin template: K8sSA and OIDC admins).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from acmeca.config import K8sSAProvisionerConfig, OIDCProvisionerConfig
from acmeca.crypto.csr import ParsedCSR
from acmeca.domain.clock import Clock
from acmeca.domain.errors import Unauthenticated
from acmeca.domain.status import ProvisionerType
from acmeca.engine.catalog import PerEntry, ProvisionerEntry
from acmeca.step.jwt import CompactJWS
from acmeca.step.provisioners.base import TokenProvisioner
from acmeca.step.provisioners.k8ssa import K8SSA_ISSUER, K8sSAProvisioner
from acmeca.step.provisioners.oidc import Fetch, OIDCKeyCache, OIDCProvisioner, fetch_json

P = TypeVar("P")
CSR_SANS = "acmeca:csr-sans"
LEEWAY = timedelta(minutes=1)
K8SSA_EXPIRY = timedelta(minutes=5)  # replay rows of untracked tokens are not kept; only the time check matters


@dataclass(frozen=True)
class ThirdPartyGrant:
    provisioner: TokenProvisioner
    claims: dict[str, Any]
    reuse_key: str | None  # None: not single-use (K8sSA, as upstream)
    expires: datetime


def _time(claims: dict[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthenticated(f"invalid token: {name} is not a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):  # NaN, infinity, years past 9999
        raise Unauthenticated(f"invalid token: {name} is out of range") from None


def check_optional_times(claims: dict[str, Any], now: datetime, *, require_exp: bool) -> datetime | None:
    expires, not_before = _time(claims, "exp"), _time(claims, "nbf")
    if expires is None and require_exp:
        raise Unauthenticated("invalid token: missing expiration (exp)")
    if expires is not None and now > expires + LEEWAY:
        raise Unauthenticated("invalid token: token is expired (exp)")
    if not_before is not None and now + LEEWAY < not_before:
        raise Unauthenticated("invalid token: token not valid yet (nbf)")
    return expires


class ThirdPartyAuthorizer:
    def __init__(self, clock: Clock, fetch: Fetch = fetch_json) -> None:
        self._clock = clock
        self._keys = OIDCKeyCache(clock, fetch)
        self._k8ssa_verifiers = PerEntry(_k8ssa_provisioner)
        self._oidc_verifiers = PerEntry(_oidc_provisioner)

    async def authorize(
        self, token: CompactJWS, entries: Sequence[ProvisionerEntry], *, purpose: str
    ) -> ThirdPartyGrant | None:
        """A grant for an IdP/Kubernetes token, or None when the token is not one (JWK, X5C...)."""
        now = self._clock.now()
        if token.claims.get("iss") == K8SSA_ISSUER:
            entry = next((e for e in entries if e.type is ProvisionerType.K8SSA), None)
            if entry is None:
                raise Unauthenticated("provisioner not found or invalid audience (kubernetes/serviceaccount)")
            return self._k8ssa(_usable(self._k8ssa_verifiers, entry), token, now, purpose)
        for entry in entries:
            if entry.type is ProvisionerType.OIDC:
                provisioner = _usable(self._oidc_verifiers, entry)
                if provisioner.addressed_by(token):
                    return await self._oidc(provisioner, token, now, purpose)
        return None

    def _k8ssa(self, provisioner: K8sSAProvisioner, token: CompactJWS, now: datetime, purpose: str) -> ThirdPartyGrant:
        _sign_only(purpose)
        provisioner.verify(token, now=now)
        expires = check_optional_times(token.claims, now, require_exp=False) or now + K8SSA_EXPIRY
        claims = {"iss": provisioner.ref.name, "sub": token.claims["sub"], CSR_SANS: True}
        return ThirdPartyGrant(provisioner, claims, None, expires)

    async def _oidc(
        self, provisioner: OIDCProvisioner, token: CompactJWS, now: datetime, purpose: str
    ) -> ThirdPartyGrant:
        _sign_only(purpose)
        discovery = await self._keys.get(provisioner.configuration_endpoint, kid=str(token.header.get("kid") or ""))
        is_admin = provisioner.verify_with(token, discovery)
        expires = check_optional_times(token.claims, now, require_exp=True)
        assert expires is not None
        nonce = token.claims.get("nonce")
        reuse = f"oidc:{provisioner.client_id}:{nonce}" if isinstance(nonce, str) and nonce else None
        email = str(token.claims.get("email") or "")
        claims: dict[str, Any] = {"iss": provisioner.ref.name, "sub": email or str(token.claims.get("sub") or "")}
        if is_admin:
            claims[CSR_SANS] = True
        else:
            claims["sans"] = [email]
        return ThirdPartyGrant(provisioner, claims, reuse or "sha:" + _digest(token.raw), expires)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _sign_only(purpose: str) -> None:
    if purpose != "sign":
        raise Unauthenticated(f"OIDC and K8sSA tokens cannot be used to {purpose}")


def _k8ssa_provisioner(entry: ProvisionerEntry) -> K8sSAProvisioner:
    if not isinstance(entry.config, K8sSAProvisionerConfig):
        raise TypeError(f"provisioner {entry.name} is not a K8sSA provisioner")
    return K8sSAProvisioner(entry.ref, entry.config)


def _oidc_provisioner(entry: ProvisionerEntry) -> OIDCProvisioner:
    if not isinstance(entry.config, OIDCProvisionerConfig):
        raise TypeError(f"provisioner {entry.name} is not an OIDC provisioner")
    return OIDCProvisioner(entry.ref, entry.config)


def _usable(verifiers: PerEntry[P], entry: ProvisionerEntry) -> P:
    try:
        return verifiers.get(entry)
    except ValueError as exc:  # key material that parsed as settings but not as keys
        raise Unauthenticated(f"provisioner {entry.name} is misconfigured: {exc}") from None


def csr_claims(claims: dict[str, Any], csr: ParsedCSR) -> dict[str, Any]:
    """Admin template: the CSR's CN and SANs become the token's subject and SANs."""
    names = [*csr.dns_names, *csr.ip_addresses, *csr.emails, *csr.uris]
    subject = csr.common_name or (names[0] if names else "")
    return {**claims, "sub": subject, "sans": names or [subject]}
