"""Provisioners, typed: one parser for ca.json, the admin API (at write time) and stored rows (at load).

step-ca defines more provisioner types than acmeca serves. Those (SSHPOP, AWS, GCP, Azure, SCEP, Nebula) load
as *inactive*: their settings are kept as written and used nowhere, and start-up lists them once. A type
step-ca does not define is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from acmeca.config.acme import (
    DEFAULT,
    ProfileConfig,
    RateLimits,
    RenewalInfoSettings,
    read_profiles,
    read_rate_limits,
    read_renewal_info,
)
from acmeca.config.acme import RATE_LIMITS as RATE_LIMITS_SECTION
from acmeca.config.acme import RENEWAL_INFO as RENEWAL_INFO_SECTION
from acmeca.config.claims import PROVISIONER as CLAIMS_SECTION
from acmeca.config.claims import read_claims
from acmeca.config.errors import ConfigError
from acmeca.config.registry import Key, LoadNotes, Reader, section
from acmeca.config.validation import PER_PROVISIONER, ValidationOverride, parse_override
from acmeca.domain.claims import Claims
from acmeca.domain.status import ChallengeType, ProvisionerType

INACTIVE_TYPES = frozenset({
    ProvisionerType.SSHPOP, ProvisionerType.AWS, ProvisionerType.GCP, ProvisionerType.AZURE, ProvisionerType.SCEP,
    ProvisionerType.NEBULA,
})
DEFAULT_ORDERS_PER_PAGE = 10

_COMMON = (
    Key("type", "string", "JWK, ACME, X5C, OIDC or K8sSA (step-ca's other types load as inactive)."),
    Key("name", "string", "Unique name; ACME directories live under /acme/NAME/."),
    Key("claims", "object", "Claims merged over authority.claims."),
)
_COMMON_IGNORED = ("id", "options")  # templates and webhooks are not applied by acmeca

JWK = section("authority.provisioners[] (JWK)", "One-time tokens signed by the provisioner's key.", (
    *_COMMON,
    Key("key", "object", "The public JWK tokens are verified with."),
    Key("encryptedKey", "string", "The private JWK as a JWE (served to `acmeca token` clients)."),
), _COMMON_IGNORED)
X5C = section("authority.provisioners[] (X5C)", "Tokens signed by a certificate chaining to `roots`.", (
    *_COMMON,
    Key("roots", "string", "Base64 of a PEM bundle (or the PEM itself) of the trusted roots."),
), _COMMON_IGNORED)
OIDC = section("authority.provisioners[] (OIDC)", "ID tokens from an OpenID Connect provider.", (
    *_COMMON,
    Key("clientID", "string", "The OAuth client id tokens must be issued to."),
    Key("clientSecret", "string", "The OAuth client secret (used by the CLI's login flow)."),
    Key("configurationEndpoint", "string", "The provider's .well-known/openid-configuration URL."),
    Key("admins", "list of strings", "E-mail addresses that may request any name."),
    Key("domains", "list of strings", "E-mail domains allowed to get certificates."),
    Key("groups", "list of strings", "Groups allowed to get certificates."),
), (*_COMMON_IGNORED, "tenantID", "listenAddress", "scopes", "authParams"))
K8SSA = section("authority.provisioners[] (K8sSA)", "Kubernetes service account tokens.", (
    *_COMMON,
    Key("publicKeys", "string", "Base64 of the PEM public keys (or certificates) tokens are signed with."),
), _COMMON_IGNORED)
ACME = section("authority.provisioners[] (ACME)", "An RFC 8555 directory at /acme/NAME/directory.", (
    *_COMMON,
    Key("forceCN", "boolean", "Put the first identifier into the subject common name.", default="false"),
    Key("requireEAB", "boolean", "New accounts need an external account binding.", default="false"),
    Key("challenges", "list of strings", "Challenge types offered.", default='["http-01", "dns-01", "tls-alpn-01"]'),
    Key("termsOfService", "string", "URL shown as meta.termsOfService."),
    Key("website", "string", "URL shown as meta.website."),
    Key("caaIdentities", "list of strings", "Domains this CA recognises in CAA records (RFC 8659); CAA is "
        "checked only when set."),
    Key("ordersPerPage", "integer", "Orders per page of an account's orders list.", default="10"),
    Key("profiles", "object", "Certificate profiles by name (see authority.provisioners[].profiles.NAME)."),
    Key("renewalInfo", "object", "ACME Renewal Information windows."),
    Key("rateLimits", "object", "Rate limits."),
    Key("validation", "object", "Overrides of the top-level validation settings."),
), (*_COMMON_IGNORED, "attestationFormats", "attestationRoots", "attestationRootsFile"))
_INACTIVE = section("authority.provisioners[] (SSHPOP, AWS, GCP, Azure, SCEP, Nebula)",
                    "Accepted and listed at start-up as inactive; acmeca does not serve these types.", _COMMON)


@dataclass(frozen=True)
class ProvisionerConfig:
    """What every provisioner carries. ``document`` is the object as written, kept only to be echoed back."""

    type: ProvisionerType
    name: str
    claims: Claims
    document: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def active(self) -> bool:
        return self.type not in INACTIVE_TYPES

    @property
    def credential_id(self) -> str:
        """The id step-ca puts into a certificate's provisioner extension (JWK kid, OIDC client id)."""
        return ""


@dataclass(frozen=True)
class JWKProvisionerConfig(ProvisionerConfig):
    key: Mapping[str, Any] = field(default_factory=dict)
    encrypted_key: str = ""

    @property
    def kid(self) -> str:
        return str(self.key.get("kid") or "")

    @property
    def credential_id(self) -> str:
        return self.kid


@dataclass(frozen=True)
class X5CProvisionerConfig(ProvisionerConfig):
    roots: str = ""


@dataclass(frozen=True)
class OIDCProvisionerConfig(ProvisionerConfig):
    client_id: str = ""
    client_secret: str = ""
    configuration_endpoint: str = ""
    admins: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def credential_id(self) -> str:
        return self.client_id


@dataclass(frozen=True)
class K8sSAProvisionerConfig(ProvisionerConfig):
    public_keys: str = ""


@dataclass(frozen=True)
class ACMEProvisionerConfig(ProvisionerConfig):
    force_cn: bool = False
    require_eab: bool = False
    challenges: tuple[ChallengeType, ...] = tuple(ChallengeType)
    terms_of_service: str = ""
    website: str = ""
    caa_identities: tuple[str, ...] = ()
    orders_per_page: int = DEFAULT_ORDERS_PER_PAGE
    profiles: tuple[ProfileConfig, ...] = (DEFAULT,)
    renewal_info: RenewalInfoSettings = field(default_factory=RenewalInfoSettings)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    validation: ValidationOverride = field(default_factory=ValidationOverride)


def provisioner_type(value: Any) -> ProvisionerType:
    """step-ca's type names, compared without case (``k8ssa`` and ``K8SSA`` are K8sSA)."""
    if isinstance(value, str):
        for member in ProvisionerType:
            if member.value.lower() == value.lower():
                return member
    known = ", ".join(m.value for m in ProvisionerType)
    raise ValueError(f"{value!r} is not a provisioner type step-ca defines ({known})")


def parse_provisioner(
    document: Any, *, authority_claims: Claims, where: str = "provisioner", notes: LoadNotes | None = None
) -> ProvisionerConfig:
    """A typed provisioner from a ca.json-shaped object; raises ConfigError naming the JSON path."""
    notes = notes if notes is not None else LoadNotes()
    if not isinstance(document, Mapping):
        raise ConfigError(where, "must be an object")
    kind = _type(document, where)
    spec = _SECTIONS.get(kind, _INACTIVE)
    if kind in INACTIVE_TYPES:
        reader = Reader({k: v for k, v in document.items() if k in spec.names}, where, spec, notes)
    else:
        reader = Reader(document, where, spec, notes)
    name = reader.string("name", required=True)
    claims = read_claims(reader.child("claims", CLAIMS_SECTION), authority_claims)
    common: dict[str, Any] = {
        "type": kind, "name": name, "claims": claims, "document": MappingProxyType(dict(document)),
    }
    parse = _PARSERS.get(kind)
    if parse is None:
        notes.inactive_provisioners.append(f"{name} ({kind.value})")
        return ProvisionerConfig(**common)
    return parse(reader, common)


def _type(document: Mapping[str, Any], where: str) -> ProvisionerType:
    value = document.get("type")
    if value is None or value == "":
        raise ConfigError(f"{where}.type", "is required")
    try:
        return provisioner_type(value)
    except ValueError as exc:
        raise ConfigError(f"{where}.type", str(exc)) from None


def _jwk(reader: Reader, common: dict[str, Any]) -> ProvisionerConfig:
    key = reader.raw("key")
    if not isinstance(key, Mapping) or not isinstance(key.get("kty"), str):
        raise reader.fail("key", "must be a public JSON web key (an object with kty)")
    return JWKProvisionerConfig(**common, key=MappingProxyType(dict(key)), encrypted_key=reader.string("encryptedKey"))


def _x5c(reader: Reader, common: dict[str, Any]) -> ProvisionerConfig:
    return X5CProvisionerConfig(**common, roots=reader.string("roots", required=True))


def _oidc(reader: Reader, common: dict[str, Any]) -> ProvisionerConfig:
    return OIDCProvisionerConfig(
        **common, client_id=reader.string("clientID", required=True), client_secret=reader.string("clientSecret"),
        configuration_endpoint=reader.string("configurationEndpoint", required=True),
        admins=tuple(a.lower() for a in reader.strings("admins")),
        domains=tuple(d.lower() for d in reader.strings("domains")), groups=reader.strings("groups"),
    )


def _k8ssa(reader: Reader, common: dict[str, Any]) -> ProvisionerConfig:
    return K8sSAProvisionerConfig(**common, public_keys=reader.string("publicKeys", required=True))


def _challenges(reader: Reader) -> tuple[ChallengeType, ...]:
    if not reader.has("challenges"):
        return tuple(ChallengeType)
    names = reader.strings("challenges")
    known = {c.value for c in ChallengeType}
    unknown = [n for n in names if n.lower() not in known]
    if unknown or not names:
        raise reader.fail("challenges", f"must list challenge types from {', '.join(sorted(known))}")
    lowered = {n.lower() for n in names}
    return tuple(c for c in ChallengeType if c.value in lowered)


def _acme(reader: Reader, common: dict[str, Any]) -> ProvisionerConfig:
    claims: Claims = common["claims"]
    return ACMEProvisionerConfig(
        **common, force_cn=reader.boolean("forceCN"), require_eab=reader.boolean("requireEAB"),
        challenges=_challenges(reader), terms_of_service=reader.string("termsOfService"),
        website=reader.string("website"), caa_identities=reader.strings("caaIdentities"),
        orders_per_page=reader.integer("ordersPerPage", DEFAULT_ORDERS_PER_PAGE, minimum=1, maximum=1000),
        profiles=read_profiles(reader, claims),
        renewal_info=read_renewal_info(reader.child("renewalInfo", RENEWAL_INFO_SECTION)),
        rate_limits=read_rate_limits(reader.child("rateLimits", RATE_LIMITS_SECTION)),
        validation=parse_override(reader.child("validation", PER_PROVISIONER)),
    )


_SECTIONS = {
    ProvisionerType.JWK: JWK, ProvisionerType.X5C: X5C, ProvisionerType.OIDC: OIDC, ProvisionerType.K8SSA: K8SSA,
    ProvisionerType.ACME: ACME,
}
_PARSERS = {
    ProvisionerType.JWK: _jwk, ProvisionerType.X5C: _x5c, ProvisionerType.OIDC: _oidc,
    ProvisionerType.K8SSA: _k8ssa, ProvisionerType.ACME: _acme,
}


def parse_provisioners(reader: Reader, authority_claims: Claims) -> tuple[ProvisionerConfig, ...]:
    """``authority.provisioners``: each typed, names unique, at most one K8sSA (as step-ca requires)."""
    parsed: list[ProvisionerConfig] = []
    for path, document in reader.items("provisioners"):
        provisioner = parse_provisioner(document, authority_claims=authority_claims, where=path, notes=reader.notes)
        if any(p.name == provisioner.name for p in parsed):
            raise ConfigError(f"{path}.name", f"provisioner name {provisioner.name!r} is used twice")
        parsed.append(provisioner)
    if sum(p.type is ProvisionerType.K8SSA for p in parsed) > 1:
        raise reader.fail("provisioners", "at most one K8sSA provisioner is allowed")
    return tuple(parsed)
