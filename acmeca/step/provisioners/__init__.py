"""Token-accepting provisioners (JWK, X5C) built from catalog entries."""

from __future__ import annotations

from acmeca.config import ConfigError, parse_claims
from acmeca.domain.claims import Claims
from acmeca.domain.status import ProvisionerType
from acmeca.engine.provisioners import ProvisionerEntry
from acmeca.step.provisioners.base import TokenEvidence, TokenProvisioner
from acmeca.step.provisioners.jwk import JWKProvisioner
from acmeca.step.provisioners.x5c import X5CProvisioner

__all__ = ["InvalidProvisioner", "TokenEvidence", "TokenProvisioner", "provisioner_claims", "token_provisioner"]


class InvalidProvisioner(Exception):
    """A provisioner document that cannot verify tokens (bad key, bad roots, bad claims)."""


def provisioner_claims(entry: ProvisionerEntry, authority: Claims) -> Claims:
    """The provisioner's ``claims`` merged over the authority's, step-ca's precedence."""
    try:
        return parse_claims(entry.document.get("claims") or {}, base=authority, where=f"provisioner {entry.name}")
    except ConfigError as exc:
        raise InvalidProvisioner(str(exc)) from None


def token_provisioner(entry: ProvisionerEntry, authority: Claims) -> TokenProvisioner | None:
    """The token verifier for ``entry``, or None for types that take no tokens here (ACME, ...)."""
    try:
        if entry.type is ProvisionerType.JWK:
            return JWKProvisioner(entry.ref, entry.document, provisioner_claims(entry, authority))
        if entry.type is ProvisionerType.X5C:
            return X5CProvisioner(entry.ref, entry.document, provisioner_claims(entry, authority))
    except ValueError as exc:
        raise InvalidProvisioner(f"provisioner {entry.name}: {exc}") from None
    return None
