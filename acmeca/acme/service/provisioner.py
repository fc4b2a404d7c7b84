"""The ACME view of a provisioner: its typed settings plus the certificate profiles the engine is handed.

Settings are parsed and checked once, when ca.json is loaded or an admin writes the provisioner; this module
only looks them up by name or id in the shared catalog and adapts profiles to the engine's request type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from acmeca.acme.service.profiles import AcmeProfile, profiles_of
from acmeca.config import ACMEProvisionerConfig, RateLimits, RenewalInfoSettings, ValidationOverride
from acmeca.domain.claims import Claims
from acmeca.domain.errors import NotFound
from acmeca.domain.records import ProvisionerRef
from acmeca.domain.status import ChallengeType
from acmeca.engine.catalog import PerEntry, ProvisionerCatalog, ProvisionerEntry


@dataclass(frozen=True)
class Lifetimes:
    """How long ACME objects live; an internal CA can afford generous authorization reuse."""

    order: timedelta = timedelta(hours=24)
    pending_authz: timedelta = timedelta(hours=24)
    valid_authz: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class AcmeProvisioner:
    ref: ProvisionerRef
    config: ACMEProvisionerConfig
    profiles: dict[str, AcmeProfile]
    lifetimes: Lifetimes = field(default_factory=Lifetimes)

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def challenges(self) -> tuple[ChallengeType, ...]:
        return self.config.challenges

    @property
    def require_eab(self) -> bool:
        return self.config.require_eab

    @property
    def claims(self) -> Claims:
        return self.config.claims

    @property
    def terms_of_service(self) -> str | None:
        return self.config.terms_of_service or None

    @property
    def website(self) -> str | None:
        return self.config.website or None

    @property
    def caa_identities(self) -> tuple[str, ...]:
        return self.config.caa_identities

    @property
    def validation(self) -> ValidationOverride:
        return self.config.validation

    @property
    def orders_per_page(self) -> int:
        return self.config.orders_per_page

    @property
    def renewal_info(self) -> RenewalInfoSettings:
        return self.config.renewal_info

    @property
    def rate_limits(self) -> RateLimits:
        return self.config.rate_limits

    @classmethod
    def from_entry(cls, entry: ProvisionerEntry) -> AcmeProvisioner:
        if not isinstance(entry.config, ACMEProvisionerConfig):
            raise NotFound(f"provisioner '{entry.name}' is not an ACME provisioner")
        return cls(ref=entry.ref, config=entry.config, profiles=profiles_of(entry.config))


class AcmeProvisioners:
    """Looks ACME provisioners up by name or id in the shared catalog."""

    def __init__(self, catalog: ProvisionerCatalog) -> None:
        self._catalog = catalog
        self._views = PerEntry(AcmeProvisioner.from_entry)

    async def by_name(self, name: str) -> AcmeProvisioner:
        return self._views.get(await self._catalog.by_name(name))

    async def by_id(self, provisioner_id: str) -> AcmeProvisioner:
        return self._views.get(await self._catalog.by_id(provisioner_id))
