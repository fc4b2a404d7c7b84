"""The narrow contract a token-accepting provisioner offers the token verifier.

step-ca's provisioner interface has fourteen methods kept alive by stubs; ours has one behaviour, ``verify``,
because that is the only thing that differs between token types. Audience, time, issuer and replay checks are
the same for every type and live once, in :mod:`acmeca.step.ott`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography import x509

from acmeca.domain.claims import Claims
from acmeca.domain.records import ProvisionerRef
from acmeca.step.jwt import CompactJWS


@dataclass(frozen=True)
class TokenEvidence:
    """What a provisioner proved about a token beyond its claims (X5C: the certificate that signed it)."""

    leaf: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()


class ProvisionerIdentity:
    """What every provisioner type carries: who it is and its claims. Types differ only in ``verify``."""

    def __init__(self, ref: ProvisionerRef, claims: Claims) -> None:
        self._ref = ref
        self._claims = claims

    @property
    def ref(self) -> ProvisionerRef:
        return self._ref

    @property
    def claims(self) -> Claims:
        return self._claims


class TokenProvisioner(Protocol):
    @property
    def ref(self) -> ProvisionerRef: ...

    @property
    def claims(self) -> Claims: ...

    @property
    def token_id(self) -> str:
        """step-ca's token id (JWK ``name:kid``, X5C ``x5c/name``): how a token's audience selects us."""
        ...

    def verify(self, token: CompactJWS, *, now: datetime) -> TokenEvidence:
        """Check the signature (and for X5C the chain); raise Unauthenticated if it does not hold."""
        ...
