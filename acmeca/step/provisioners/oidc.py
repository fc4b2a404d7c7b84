"""OIDC: ID tokens from an identity provider, verified with its published keys (stepca.md §2.5).

Discovery (``configurationEndpoint``) and the JWKS are fetched over HTTP and cached per endpoint; an unknown
``kid`` forces one refresh (key rotation), at most once a minute. Checks: signature by an IdP key, ``iss``
equal to the discovered issuer, ``clientID`` in ``aud``, ``azp`` (when present) equal to it, times with one
minute of leeway, e-mail domain in ``domains`` and membership of ``groups`` when configured (admins are
exempt). ``nonce`` is the replay key. Non-admins get a certificate for their e-mail address only; e-mails in
``admins`` get the admin template (CN and SANs from the CSR).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from jwcrypto import jwk

from acmeca.config import OIDCProvisionerConfig
from acmeca.domain.clock import Clock
from acmeca.domain.errors import Unauthenticated
from acmeca.domain.json_limits import loads_limited
from acmeca.domain.records import ProvisionerRef
from acmeca.step.jwt import CompactJWS, verify_signature
from acmeca.step.provisioners.base import ProvisionerIdentity, TokenEvidence

CACHE_TTL = timedelta(hours=1)
REFRESH_FLOOR = timedelta(minutes=1)
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)
Fetch = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Discovery:
    issuer: str
    keys: dict[str, jwk.JWK]  # by kid
    fetched_at: datetime


async def fetch_json(url: str) -> dict[str, Any]:
    try:
        async with aiohttp.ClientSession(timeout=FETCH_TIMEOUT) as session, session.get(url) as response:
            if response.status != 200:
                raise Unauthenticated(f"OIDC provider answered {response.status} for {url}")
            document = loads_limited(await response.read())
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise Unauthenticated(f"cannot reach the OIDC provider at {url}: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise Unauthenticated(f"OIDC provider document at {url} is not a JSON object")
    return document


class OIDCKeyCache:
    """Discovery + JWKS per configuration endpoint; owned by the token verifier, shared by its lookups."""

    def __init__(self, clock: Clock, fetch: Fetch = fetch_json) -> None:
        self._clock = clock
        self._fetch = fetch
        self._entries: dict[str, Discovery] = {}
        self._forced_at: dict[str, datetime] = {}
        self._lock = asyncio.Lock()

    async def get(self, endpoint: str, *, kid: str | None = None) -> Discovery:
        now = self._clock.now()
        found = self._entries.get(endpoint)
        if found is None or now - found.fetched_at > CACHE_TTL:
            async with self._lock:
                return await self._load(endpoint, now)
        if kid is not None and kid not in found.keys:
            # Key rotation: refetch at once, but at most once per REFRESH_FLOOR so tokens with made-up kids
            # cannot make us hammer the provider.
            forced = self._forced_at.get(endpoint)
            if forced is None or now - forced > REFRESH_FLOOR:
                self._forced_at[endpoint] = now
                async with self._lock:
                    return await self._load(endpoint, now)
        return found

    async def _load(self, endpoint: str, now: datetime) -> Discovery:
        configuration = await self._fetch(endpoint)
        issuer, jwks_uri = configuration.get("issuer"), configuration.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise Unauthenticated("OIDC discovery document lacks issuer or jwks_uri")
        keys: dict[str, jwk.JWK] = {}
        for item in (await self._fetch(jwks_uri)).get("keys") or []:
            try:
                key = jwk.JWK(**item)
            except Exception:
                continue
            keys[str(item.get("kid") or key.thumbprint())] = key
        discovery = Discovery(issuer=issuer, keys=keys, fetched_at=now)
        self._entries[endpoint] = discovery
        return discovery


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or () if isinstance(v, str))


class OIDCProvisioner(ProvisionerIdentity):
    def __init__(self, ref: ProvisionerRef, config: OIDCProvisionerConfig) -> None:
        super().__init__(ref, config.claims)
        self.client_id = config.client_id
        self.configuration_endpoint = config.configuration_endpoint
        self.admins = set(config.admins)
        self.domains = set(config.domains)
        self.groups = set(config.groups)

    @property
    def token_id(self) -> str:
        return self.client_id

    def addressed_by(self, token: CompactJWS) -> bool:
        """step-ca's lookup for IdP tokens: ``azp`` first, else the audience names our client id."""
        azp = token.claims.get("azp")
        if isinstance(azp, str) and azp:
            return azp == self.client_id
        audience = token.claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else _strings(audience)
        return self.client_id in audiences

    def verify(self, token: CompactJWS, *, now: datetime) -> TokenEvidence:
        raise Unauthenticated("OIDC tokens are verified with the provider's keys (verify_with)")

    def verify_with(self, token: CompactJWS, discovery: Discovery) -> bool:
        """Signature, issuer, audience, azp, domains and groups; returns whether the user is an admin."""
        key = discovery.keys.get(str(token.header.get("kid") or ""))
        if key is None:
            raise Unauthenticated("invalid token: the OIDC provider has no key with this kid")
        verify_signature(token, key)
        claims = token.claims
        if claims.get("iss") != discovery.issuer:
            raise Unauthenticated("invalid token: invalid issuer claim (iss)")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else _strings(audience)
        if self.client_id not in audiences or claims.get("azp") not in (None, self.client_id):
            raise Unauthenticated("invalid token: invalid audience claim (aud)")
        email = str(claims.get("email") or "").lower()
        is_admin = bool(email) and email in self.admins
        if is_admin:
            return True
        if not email or claims.get("email_verified") is False:
            raise Unauthenticated("validatePayload: failed to validate oidc token payload: email not verified")
        if self.domains and email.rpartition("@")[2] not in self.domains:
            raise Unauthenticated("validatePayload: failed to validate oidc token payload: email is not allowed")
        if self.groups and not self.groups & set(_strings(claims.get("groups"))):
            raise Unauthenticated("validatePayload: failed to validate oidc token payload: group is not allowed")
        return False
