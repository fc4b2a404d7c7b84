"""The top-level sections of ca.json other than provisioners and validation: db, tls, logger, crl, policy."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from acmeca.config.errors import ConfigError
from acmeca.config.registry import Key, LoadNotes, Reader, Reload, section

DB = section("db", "The database: the embedded SQLite file, or PostgreSQL for production and replicas.", (
    Key("type", "string", '"sqlite" (or "sqlite3") or "postgresql" (or "postgres"). step-ca\'s badger, bbolt '
        'and mysql load, but serve refuses them.', Reload.RESTART),
    Key("dataSource", "string", "The SQLite file, or a postgresql:// URL.", Reload.RESTART),
    Key("database", "string", "PostgreSQL database name, overriding the one in dataSource.", Reload.RESTART),
    Key("busyTimeout", "duration", "SQLite: how long a write waits for another process's write lock before "
        "the request answers 503 (the database is unavailable).", Reload.RESTART, default="10s"),
    Key("poolTimeout", "duration", "PostgreSQL: how long a request waits for a free pooled connection before "
        "it answers 503 (the database is unavailable).", Reload.RESTART, default="30s"),
    Key("poolSize", "number", "PostgreSQL: each process opens up to 2 × poolSize connections as load needs "
        "them and keeps them open, so a server uses up to 2 × poolSize × workers connections.", Reload.RESTART,
        default="10"),
), ("valueDir", "badgerFileLoadingMode"))
TLS = section("tls", "TLS options echoed to token API clients in every SignResponse (tlsOptions).", (
    Key("cipherSuites", "list of strings", "Cipher suite names.", Reload.RESTART,
        default='["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]'),
    Key("minVersion", "number", "Lowest TLS version.", Reload.RESTART, default="1.2"),
    Key("maxVersion", "number", "Highest TLS version.", Reload.RESTART, default="1.3"),
    Key("renegotiation", "boolean", "TLS renegotiation.", Reload.RESTART, default="false"),
))
LOGGER = section("logger", "Log output.", (
    Key("format", "string", '"text" (key=value pairs) or "json" (one object per line).', default="text"),
    Key("level", "string", '"debug", "info", "warning" or "error".', default="info"),
))
CRL = section("crl", "Certificate revocation lists, served at /crl and /1.0/crl.", (
    Key("enabled", "boolean", "Generate and serve a CRL.", Reload.RESTART, default="false"),
    Key("generateOnRevoke", "boolean", "Regenerate the CRL on every revocation.", Reload.RESTART, default="false"),
    Key("cacheDuration", "duration", "CRL validity (nextUpdate - thisUpdate).", Reload.RESTART, default="24h"),
    Key("renewPeriod", "duration", "Regenerate this long before nextUpdate; at most cacheDuration.",
        Reload.RESTART, default="2/3 of cacheDuration"),
    Key("idpURL", "string", "The Issuing Distribution Point URL written into the CRL and certificates.",
        Reload.RESTART, default="https://DNSNAME[:PORT]/1.0/crl"),
))
POLICY = section("authority.policy", "Authority-wide name policy (X.509); deny wins.", (
    Key("x509", "object", "allow/deny name lists and allowWildcardNames."),
), ("ssh",))
POLICY_X509 = section("authority.policy.x509", "X.509 name policy.", (
    Key("allow", "object", "Names that may be certified (dns, ip, email, uri, cn)."),
    Key("deny", "object", "Names that may never be certified (dns, ip, email, uri, cn)."),
    Key("allowWildcardNames", "boolean", "Allow wildcard DNS names.", default="false"),
))
_NAME_KEYS = (
    Key("dns", "list of strings", "DNS names; *.example.com or .example.com for one label below."),
    Key("ip", "list of strings", "IP addresses or CIDR ranges."),
    Key("email", "list of strings", "Mailboxes (with @) or e-mail domains."),
    Key("uri", "list of strings", "URI host domains."),
    Key("cn", "list of strings", "Common names, matched literally."),
    *(Key(plural, "list of strings", f"The admin API's spelling of {singular}.")
      for plural, singular in (("ips", "ip"), ("emails", "email"), ("uris", "uri"), ("commonNames", "cn"))),
)
POLICY_NAMES = section("authority.policy.x509.allow|deny", "One side of the X.509 name policy.", _NAME_KEYS)

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


@dataclass(frozen=True)
class DatabaseConfig:
    type: str = ""  # "sqlite" | "postgresql"; "" = not configured
    data_source: str = ""
    database: str = ""
    busy_timeout: timedelta = timedelta(seconds=10)
    pool_timeout: timedelta = timedelta(seconds=30)
    pool_size: int = 10


@dataclass(frozen=True)
class TLSOptions:
    cipher_suites: tuple[str, ...] = (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    )
    min_version: float = 1.2
    max_version: float = 1.3
    renegotiation: bool = False


@dataclass(frozen=True)
class LoggerConfig:
    format: str = "text"
    level: str = "info"

    @property
    def level_number(self) -> int:
        return _LEVELS[self.level]


@dataclass(frozen=True)
class CRLConfig:
    enabled: bool = False
    generate_on_revoke: bool = False
    cache_duration: timedelta = timedelta(hours=24)
    renew_period: timedelta | None = None
    idp_url: str = ""


@dataclass(frozen=True)
class NameLists:
    dns: tuple[str, ...] = ()
    ip: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    uri: tuple[str, ...] = ()
    cn: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyConfig:
    """The structure of ``authority.policy``; the policy layer checks each rule's syntax when it builds it."""

    allow: NameLists = NameLists()
    deny: NameLists = NameLists()
    allow_wildcard_names: bool = False

    @property
    def is_empty(self) -> bool:
        return self == PolicyConfig()


STEP_CA_DATABASES = frozenset({"badger", "badgerv1", "badgerv2", "bbolt", "mysql"})


def read_db(reader: Reader) -> DatabaseConfig:
    """sqlite or postgresql; step-ca's own database types load (a step-ca ca.json still loads for the client
    commands), and ``acmeca serve`` refuses them with the way forward."""
    kind = reader.string("type").lower()
    aliases = {"sqlite": "sqlite", "sqlite3": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}
    if kind and kind not in aliases and kind not in STEP_CA_DATABASES:
        raise reader.fail("type", f"{kind!r} is not supported (use sqlite or postgresql)")
    config = DatabaseConfig(
        aliases.get(kind, kind), reader.string("dataSource"), reader.string("database"),
        busy_timeout=reader.duration("busyTimeout", timedelta(seconds=10), minimum=timedelta(0)),
        pool_timeout=reader.duration("poolTimeout", timedelta(seconds=30), minimum=timedelta(0)),
        pool_size=reader.integer("poolSize", 10, minimum=1, maximum=1000),
    )
    if config.type and not config.data_source:
        raise reader.fail("dataSource", "is required: the SQLite file or a postgresql:// URL")
    if config.type == "postgresql" and not config.data_source.startswith(("postgresql://", "postgres://")):
        raise reader.fail("dataSource", "must be a postgresql:// URL")
    return config


def read_tls(reader: Reader) -> TLSOptions:
    defaults = TLSOptions()
    return TLSOptions(
        cipher_suites=reader.strings("cipherSuites") if reader.has("cipherSuites") else defaults.cipher_suites,
        min_version=reader.number("minVersion", defaults.min_version),
        max_version=reader.number("maxVersion", defaults.max_version),
        renegotiation=reader.boolean("renegotiation", defaults.renegotiation),
    )


def read_logger(reader: Reader) -> LoggerConfig:
    fmt = reader.string("format", "text")
    if fmt not in ("text", "json"):
        raise reader.fail("format", f'must be "text" or "json", not {fmt!r}')
    level = reader.string("level", "info").lower()
    if level not in _LEVELS:
        raise reader.fail("level", f"must be one of {', '.join(_LEVELS)}, not {level!r}")
    return LoggerConfig(fmt, level)


def read_crl(reader: Reader) -> CRLConfig:
    cache = reader.duration("cacheDuration", timedelta(hours=24), minimum=timedelta(seconds=1))
    renew = reader.duration("renewPeriod", timedelta(0)) if reader.raw("renewPeriod") else None
    if renew is not None and not timedelta(0) <= renew <= cache:
        raise reader.fail("renewPeriod", "must lie between 0 and cacheDuration")
    return CRLConfig(
        enabled=reader.boolean("enabled"), generate_on_revoke=reader.boolean("generateOnRevoke"),
        cache_duration=cache, renew_period=renew, idp_url=reader.string("idpURL"),
    )


def _names(reader: Reader) -> NameLists:
    return NameLists(
        dns=reader.strings("dns"), ip=reader.strings("ip") + reader.strings("ips"),
        email=reader.strings("email") + reader.strings("emails"), uri=reader.strings("uri") + reader.strings("uris"),
        cn=reader.strings("cn") + reader.strings("commonNames"),
    )


def read_policy(reader: Reader) -> PolicyConfig:
    x509 = reader.child("x509", POLICY_X509)
    return PolicyConfig(
        allow=_names(x509.child("allow", POLICY_NAMES)), deny=_names(x509.child("deny", POLICY_NAMES)),
        allow_wildcard_names=x509.boolean("allowWildcardNames"),
    )


def policy_error(where: str, reason: str) -> ConfigError:
    """A rule the policy layer refused, located under authority.policy."""
    return ConfigError(f"authority.policy{where}", reason)


def parse_database(document: Mapping[str, Any]) -> DatabaseConfig:
    """ca.json's ``db`` object on its own (tools that only need the database, such as test fixtures)."""
    return read_db(Reader(document, "db", DB, LoadNotes()))
