"""ACME certificate profiles (draft-ietf-acme-profiles): certificate contents chosen by name.

Configured per ACME provisioner as
``"profiles": {"shortlived": {"description": "...", "validity": "6h", "extKeyUsage": ["serverAuth"],
"omitCommonName": true}}`` and checked when the configuration is loaded (:mod:`acmeca.config.acme`). Every
ACME provisioner also offers ``default`` (the claims' default validity, the engine's default extensions).
"""

from __future__ import annotations

from dataclasses import dataclass

from acmeca.config import ACMEProvisionerConfig, ProfileConfig
from acmeca.config.acme import DEFAULT_PROFILE
from acmeca.engine.requests import CertificateProfile

__all__ = ["DEFAULT_PROFILE", "AcmeProfile", "profiles_of"]


@dataclass(frozen=True)
class AcmeProfile:
    """One offered profile: what ``meta.profiles`` shows and what the engine is handed."""

    description: str
    certificate: CertificateProfile

    @property
    def name(self) -> str:
        return self.certificate.name


def _profile(config: ProfileConfig) -> AcmeProfile:
    certificate = CertificateProfile(
        name=config.name, validity=config.validity, ext_key_usage=config.ext_key_usage,
        omit_common_name=config.omit_common_name, lint_cabf=config.lint_cabf,
    )
    return AcmeProfile(config.description, certificate)


def profiles_of(provisioner: ACMEProvisionerConfig) -> dict[str, AcmeProfile]:
    return {p.name: _profile(p) for p in provisioner.profiles}
