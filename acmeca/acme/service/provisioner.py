"""A typed view of an ACME provisioner's ca.json document.

The catalog hands out untyped documents (they are step-ca's shape); every ACME decision reads them through
this class so a missing or mistyped key is settled once, here, and not in each handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from acmeca.acme.service.profiles import AcmeProfile, parse_profiles
from acmeca.acme.service.ratelimits import RateLimits
from acmeca.acme.service.renewal_info import RenewalInfoSettings
from acmeca.config import ConfigError, parse_claims
from acmeca.domain.claims import Claims
from acmeca.domain.errors import NotFound, ServerInternal
from acmeca.domain.records import ProvisionerRef
from acmeca.domain.status import ChallengeType, ProvisionerType
from acmeca.engine.provisioners import ProvisionerCatalog, ProvisionerEntry, config_entry

DEFAULT_ORDERS_PER_PAGE = 10


@dataclass(frozen=True)
class Lifetimes:
    """How long ACME objects live; an internal CA can afford generous authorization reuse."""

    order: timedelta = timedelta(hours=24)
    pending_authz: timedelta = timedelta(hours=24)
    valid_authz: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class AcmeProvisioner:
    ref: ProvisionerRef
    challenges: tuple[ChallengeType, ...]
    require_eab: bool
    claims: Claims
    terms_of_service: str | None
    website: str | None
    caa_identities: tuple[str, ...]
    validation: dict[str, Any]
    orders_per_page: int = DEFAULT_ORDERS_PER_PAGE
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    profiles: dict[str, AcmeProfile] = field(default_factory=lambda: parse_profiles(None, Claims(), where=""))
    renewal_info: RenewalInfoSettings = field(default_factory=RenewalInfoSettings)
    rate_limits: RateLimits = field(default_factory=RateLimits)

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def name(self) -> str:
        return self.ref.name

    @classmethod
    def from_entry(cls, entry: ProvisionerEntry, authority_claims: Claims) -> AcmeProvisioner:
        """The typed view; ValueError names the bad key of ``profiles``, ``renewalInfo`` or ``rateLimits``."""
        doc = entry.document
        names = doc.get("challenges") or [c.value for c in ChallengeType]
        challenges = tuple(c for c in ChallengeType if c.value in names)
        try:
            claims = parse_claims(doc.get("claims") or {}, base=authority_claims, where=f"provisioner {entry.name}")
        except ConfigError:
            claims = authority_claims
        per_page = doc.get("ordersPerPage")
        return cls(
            ref=entry.ref,
            challenges=challenges,
            require_eab=bool(doc.get("requireEAB", False)),
            claims=claims,
            terms_of_service=_text(doc.get("termsOfService")),
            website=_text(doc.get("website")),
            caa_identities=tuple(str(v) for v in doc.get("caaIdentities") or ()),
            validation=dict(doc.get("validation") or {}),
            orders_per_page=per_page if isinstance(per_page, int) and per_page > 0 else DEFAULT_ORDERS_PER_PAGE,
            profiles=parse_profiles(doc.get("profiles"), claims, where=f"provisioner {entry.name}"),
            renewal_info=_scoped(entry.name, RenewalInfoSettings.from_document, doc.get("renewalInfo")),
            rate_limits=_scoped(entry.name, RateLimits.from_document, doc.get("rateLimits")),
        )


def check_acme_document(document: dict[str, Any], authority_claims: Claims) -> None:
    """Refuse an ACME provisioner document that could not serve (raises ValueError with the reason).

    Called when ca.json is loaded and when an admin stores a provisioner, so a bad profile, window or limit
    is reported to the operator at once instead of failing the first client that uses it.
    """
    AcmeProvisioner.from_entry(config_entry(document), authority_claims)


def _scoped(name: str, parse: Any, value: Any) -> Any:
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"provisioner {name}: expected an object, not {value!r}")
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"provisioner {name}: {exc}") from None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class AcmeProvisioners:
    """Looks ACME provisioners up by name or id in the shared catalog."""

    def __init__(self, catalog: ProvisionerCatalog, authority_claims: Claims) -> None:
        self._catalog = catalog
        self._claims = authority_claims
        # Every ACME request needs its provisioner's typed view; the catalog hands out the same entry object
        # until the provisioner changes, so the view is parsed once per change, not once per request.
        self._views: dict[str, tuple[ProvisionerEntry, AcmeProvisioner]] = {}

    async def by_name(self, name: str) -> AcmeProvisioner:
        entry = await self._catalog.by_name(name)
        if entry.type is not ProvisionerType.ACME:
            raise NotFound(f"provisioner '{name}' is not an ACME provisioner")
        return self._cached_view(entry)

    async def by_id(self, provisioner_id: str) -> AcmeProvisioner:
        entry = await self._catalog.by_id(provisioner_id)
        if entry.type is not ProvisionerType.ACME:
            raise NotFound(f"provisioner '{entry.name}' is not an ACME provisioner")
        return self._cached_view(entry)

    def _cached_view(self, entry: ProvisionerEntry) -> AcmeProvisioner:
        cached = self._views.get(entry.id)
        if cached is not None and cached[0] is entry:
            return cached[1]
        view = _view(entry, self._claims)
        self._views[entry.id] = (entry, view)
        return view


def _view(entry: ProvisionerEntry, claims: Claims) -> AcmeProvisioner:
    """A document that slipped past load-time checks (an old database row) is a clear 500, not a traceback."""
    try:
        return AcmeProvisioner.from_entry(entry, claims)
    except ValueError as exc:
        raise ServerInternal(f"ACME provisioner is misconfigured: {exc}") from None
