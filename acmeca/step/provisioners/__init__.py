"""Token-accepting provisioners (JWK, X5C) built from catalog entries."""

from __future__ import annotations

from acmeca.config import JWKProvisionerConfig, X5CProvisionerConfig
from acmeca.engine.catalog import ProvisionerEntry
from acmeca.step.provisioners.base import TokenEvidence, TokenProvisioner
from acmeca.step.provisioners.jwk import JWKProvisioner
from acmeca.step.provisioners.x5c import X5CProvisioner

__all__ = ["InvalidProvisioner", "TokenEvidence", "TokenProvisioner", "token_provisioner"]


class InvalidProvisioner(Exception):
    """A provisioner whose key or roots cannot verify tokens (its settings parsed, its key material did not)."""


def token_provisioner(entry: ProvisionerEntry) -> TokenProvisioner | None:
    """The token verifier for ``entry``, or None for types that take no tokens here (ACME, ...)."""
    config = entry.config
    try:
        if isinstance(config, JWKProvisionerConfig):
            return JWKProvisioner(entry.ref, config)
        if isinstance(config, X5CProvisionerConfig):
            return X5CProvisioner(entry.ref, config)
    except ValueError as exc:
        raise InvalidProvisioner(f"provisioner {entry.name}: {exc}") from None
    return None
