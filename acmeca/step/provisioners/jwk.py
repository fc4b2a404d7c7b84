"""JWK provisioner: tokens signed by the provisioner's own key (step-ca §2.1, §2.5)."""

from __future__ import annotations

from datetime import datetime

from acmeca.config import JWKProvisionerConfig
from acmeca.domain.errors import Unauthenticated
from acmeca.domain.records import ProvisionerRef
from acmeca.step.jwt import CompactJWS, public_jwk, verify_signature
from acmeca.step.provisioners.base import ProvisionerIdentity, TokenEvidence


class JWKProvisioner(ProvisionerIdentity):
    def __init__(self, ref: ProvisionerRef, config: JWKProvisionerConfig) -> None:
        super().__init__(ref, config.claims)
        self._key = public_jwk(dict(config.key))
        self._kid = config.kid or self._key.thumbprint()

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def token_id(self) -> str:
        return f"{self._ref.name}:{self._kid}"

    def verify(self, token: CompactJWS, *, now: datetime) -> TokenEvidence:
        kid = token.header.get("kid")
        if kid is not None and kid != self._kid:
            raise Unauthenticated("invalid token: the kid does not name the provisioner key")
        verify_signature(token, self._key)
        return TokenEvidence()
