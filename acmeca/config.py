"""The typed, frozen configuration tree, loaded and validated once.

``ca.json`` uses step-ca's field names so an operator can carry a config between the two. This is also the
only module that reads the environment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from acmeca.domain.claims import Claims
from acmeca.domain.durations import parse_duration
from acmeca.domain.errors import Malformed

DEFAULT_DNS_NAMES = ("localhost", "127.0.0.1", "::1")
DEFAULT_TLS = {
    "cipherSuites": [
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ],
    "minVersion": 1.2,
    "maxVersion": 1.3,
    "renegotiation": False,
}


class ConfigError(Exception):
    """A one-line, operator-facing description of what is wrong with the configuration."""


def acmeca_path() -> Path:
    """``$ACMECA_PATH``, else ``~/.acmeca`` (step's ``$STEPPATH``)."""
    return Path(os.environ.get("ACMECA_PATH") or Path.home() / ".acmeca")


def environment_default(name: str) -> str | None:
    """``ACMECA_<NAME>`` for CLI flags that fall back to the environment (``ca-url`` -> ``ACMECA_CA_URL``)."""
    return os.environ.get("ACMECA_" + name.upper().replace("-", "_")) or None


@dataclass(frozen=True)
class CRLConfig:
    enabled: bool = False
    generate_on_revoke: bool = False
    cache_duration: timedelta = timedelta(hours=24)
    renew_period: timedelta | None = None
    idp_url: str = ""


@dataclass(frozen=True)
class AuthorityConfig:
    provisioners: tuple[dict[str, Any], ...] = ()
    claims: Claims = field(default_factory=Claims)
    claims_document: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] | None = None
    backdate: timedelta = timedelta(minutes=1)
    enable_admin: bool = False


@dataclass(frozen=True)
class CAConfig:
    path: Path  # the ca.json this was read from
    document: dict[str, Any]  # the raw document, for echoing and for provisioner edits
    roots: tuple[Path, ...]
    federated_roots: tuple[Path, ...]
    crt: Path
    key: Path
    address: str
    insecure_address: str
    dns_names: tuple[str, ...]
    common_name: str
    password: str
    db: dict[str, Any]
    logger_format: str
    tls: dict[str, Any]
    authority: AuthorityConfig
    crl: CRLConfig
    validation: dict[str, Any]
    alternate_chains: tuple[tuple[Path, ...], ...]

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_address(self.address)


def parse_address(address: str) -> tuple[str, int]:
    """Split step-ca's ``":443"`` / ``"127.0.0.1:8443"`` / ``"[::1]:443"`` form."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"address {address!r} must be host:port, e.g. ':443'")
    return host.strip("[]"), int(port)


def load_config(path: Path) -> CAConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist (run 'acmeca init' first)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return parse_config(document, path=path)


def parse_config(document: dict[str, Any], *, path: Path) -> CAConfig:
    # Relative paths are relative to the CA's home ($ACMECA_PATH, the folder above config/), as step-ca
    # resolves them against $STEPPATH; a ca.json kept elsewhere resolves them against its own folder.
    base = path.parent.parent if path.parent.name == "config" else path.parent

    def resolve(value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key} must be a non-empty path")
        candidate = Path(value)
        return candidate if candidate.is_absolute() else (base / candidate).resolve()

    roots_value = document.get("root")
    roots_list = roots_value if isinstance(roots_value, list) else [roots_value]
    if not roots_list or roots_list == [None]:
        raise ConfigError("root is required")
    address = _str(document, "address", required=True)
    parse_address(address)
    dns_names = document.get("dnsNames") or list(DEFAULT_DNS_NAMES)
    if not isinstance(dns_names, list) or not all(isinstance(n, str) and n for n in dns_names):
        raise ConfigError("dnsNames must be a list of names")
    db = document.get("db")
    if db is not None and not isinstance(db, dict):
        raise ConfigError("db must be an object")
    return CAConfig(
        path=path,
        document=document,
        roots=tuple(resolve(r, "root") for r in roots_list),
        federated_roots=tuple(resolve(r, "federatedRoots") for r in document.get("federatedRoots") or []),
        crt=resolve(document.get("crt"), "crt"),
        key=resolve(document.get("key"), "key"),
        address=address,
        insecure_address=_str(document, "insecureAddress"),
        dns_names=tuple(dns_names),
        common_name=_str(document, "commonName") or "acmeca Online CA",
        password=_str(document, "password"),
        db=db or {},
        logger_format=str((document.get("logger") or {}).get("format", "text")),
        tls={**DEFAULT_TLS, **(document.get("tls") or {})},
        authority=_parse_authority(document.get("authority") or {}),
        crl=_parse_crl(document.get("crl") or {}),
        validation=_object(document, "validation"),
        alternate_chains=tuple(
            tuple(resolve(p, "alternateChains") for p in chain) for chain in document.get("alternateChains") or []
        ),
    )


def _str(document: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = document.get(key)
    if value is None or value == "":
        if required:
            raise ConfigError(f"{key} is required")
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string")
    return value


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be an object")
    return value


def _duration(document: dict[str, Any], key: str, default: timedelta, where: str) -> timedelta:
    value = document.get(key)
    if value in (None, ""):
        return default
    try:
        return parse_duration(value)
    except Malformed:
        raise ConfigError(f"{where}.{key}: invalid duration {value!r}") from None


def parse_claims(document: dict[str, Any], *, base: Claims, where: str) -> Claims:
    """Merge a claims object over ``base``; reject min > default > max inconsistencies."""
    claims = Claims(
        min_duration=_duration(document, "minTLSCertDuration", base.min_duration, where),
        max_duration=_duration(document, "maxTLSCertDuration", base.max_duration, where),
        default_duration=_duration(document, "defaultTLSCertDuration", base.default_duration, where),
        disable_renewal=bool(document.get("disableRenewal", base.disable_renewal)),
        allow_renewal_after_expiry=bool(document.get("allowRenewalAfterExpiry", base.allow_renewal_after_expiry)),
        disable_smallstep_extensions=bool(
            document.get("disableSmallstepExtensions", base.disable_smallstep_extensions)
        ),
    )
    if not claims.min_duration <= claims.default_duration <= claims.max_duration:
        raise ConfigError(f"{where}: claims need minTLSCertDuration <= defaultTLSCertDuration <= maxTLSCertDuration")
    if claims.min_duration <= timedelta(0):
        raise ConfigError(f"{where}.minTLSCertDuration must be positive")
    return claims


def _parse_authority(document: dict[str, Any]) -> AuthorityConfig:
    provisioners = document.get("provisioners") or []
    if not isinstance(provisioners, list) or not all(isinstance(p, dict) for p in provisioners):
        raise ConfigError("authority.provisioners must be a list of objects")
    names = [p.get("name") for p in provisioners]
    for name in names:
        if not isinstance(name, str) or not name:
            raise ConfigError("every provisioner needs a name")
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigError(f"provisioner names must be unique: {sorted(duplicates)}")
    claims_document = document.get("claims") or {}
    backdate = _duration(document, "backdate", timedelta(minutes=1), "authority")
    if backdate < timedelta(0):
        raise ConfigError("authority.backdate must not be negative")
    return AuthorityConfig(
        provisioners=tuple(provisioners),
        claims=parse_claims(claims_document, base=Claims(), where="authority.claims"),
        claims_document=claims_document,
        policy=document.get("policy"),
        backdate=backdate,
        enable_admin=bool(document.get("enableAdmin", False)),
    )


def _parse_crl(document: dict[str, Any]) -> CRLConfig:
    cache = _duration(document, "cacheDuration", timedelta(hours=24), "crl")
    renew = document.get("renewPeriod")
    renew_period = _duration(document, "renewPeriod", cache, "crl") if renew else None
    if renew_period is not None and not timedelta(0) <= renew_period <= cache:
        raise ConfigError("crl: cacheDuration >= renewPeriod >= 0 is required")
    return CRLConfig(
        enabled=bool(document.get("enabled", False)),
        generate_on_revoke=bool(document.get("generateOnRevoke", False)),
        cache_duration=cache,
        renew_period=renew_period,
        idp_url=str(document.get("idpURL") or ""),
    )
