"""ca.json -> one frozen, typed CAConfig, validated once; the only module that reads the environment.

``ca.json`` uses step-ca's field names so an operator can carry a config between the two. Everything is
checked here: a wrong type, an unknown key, a bad duration, address or resolver stops ``acmeca serve`` at
start (and is refused on SIGHUP, keeping the running configuration) with the full JSON path of the key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from acmeca.config.claims import AUTHORITY as AUTHORITY_CLAIMS
from acmeca.config.claims import read_claims
from acmeca.config.errors import ConfigError
from acmeca.config.issuance import LINT, WEAK_KEYS, LintConfig, WeakKeysConfig, read_lint, read_weak_keys
from acmeca.config.metrics import METRICS, MetricsSettings, read_metrics
from acmeca.config.provisioners import ProvisionerConfig, parse_provisioners
from acmeca.config.registry import Key, LoadNotes, Reader, Reload, section
from acmeca.config.sections import (
    CRL,
    DB,
    LOGGER,
    POLICY,
    TLS,
    CRLConfig,
    DatabaseConfig,
    LoggerConfig,
    PolicyConfig,
    TLSOptions,
    read_crl,
    read_db,
    read_logger,
    read_policy,
    read_tls,
)
from acmeca.config.server import SERVER, ServerSettings, read_server
from acmeca.config.validation import TOP_LEVEL as VALIDATION
from acmeca.config.validation import ValidationSettings, parse_validation
from acmeca.domain.addresses import parse_listen_address
from acmeca.domain.claims import Claims

DEFAULT_DNS_NAMES = ("localhost", "127.0.0.1", "::1")
DEFAULT_ADMIN_SUBJECT = "step"

TOP = section("", "The top level of ca.json.", (
    Key("root", "path or list of paths", "Root certificate(s): the trust anchors served by /roots.", Reload.RESTART),
    Key("federatedRoots", "list of paths", "Other roots trusted for mTLS and served by /federation.",
        Reload.RESTART),
    Key("crt", "path", "The intermediate certificate that signs (re-read on SIGHUP).", Reload.SIGHUP),
    Key("key", "path", "The intermediate's encrypted private key (re-read on SIGHUP with serve's password).",
        Reload.SIGHUP),
    Key("password", "string", "Password of `key`; prefer serve's --password-file.", Reload.SIGHUP),
    Key("address", "host:port", 'HTTPS listen address, e.g. ":443" or "127.0.0.1:8443".', Reload.RESTART),
    Key("dnsNames", "list of strings", "Names and addresses of the CA: its TLS certificate's SANs and the token "
        "audiences.", Reload.RESTART, default='["localhost", "127.0.0.1", "::1"]'),
    Key("commonName", "string", "Common name of the CA's own TLS certificate.", Reload.RESTART,
        default="acmeca Online CA"),
    Key("db", "object", "The database.", Reload.RESTART),
    Key("logger", "object", "Log format and level."),
    Key("tls", "object", "TLS options echoed to token API clients.", Reload.RESTART),
    Key("crl", "object", "Certificate revocation lists.", Reload.RESTART),
    Key("server", "object", "Connection limits: idle and request timeouts, connections per process.",
        Reload.RESTART),
    Key("metrics", "object", "Prometheus metrics: the address of the plain-HTTP /metrics listener.",
        Reload.RESTART),
    Key("authority", "object", "Provisioners, claims, policy and remote management."),
    Key("validation", "object", "How ACME challenges are validated."),
    Key("alternateChains", "list of lists of paths", "Extra chains offered to ACME clients (Link rel=alternate), "
        "re-read with the intermediate on SIGHUP."),
    Key("weakKeys", "object", "Known-weak key checks (badkeys).", Reload.RESTART),
    Key("lint", "object", "Pre-issuance linting (pkilint)."),
), ("insecureAddress", "kms", "ssh", "templates", "metricsAddress", "monitoring"))
AUTHORITY = section("authority", "Who may get certificates, and for what.", (
    Key("provisioners", "list of objects", "The provisioners (see authority.provisioners[] by type)."),
    Key("claims", "object", "Authority-wide claims.", Reload.RESTART),
    Key("policy", "object", "Authority-wide name policy."),
    Key("backdate", "duration", "notBefore is set this far in the past to absorb clock skew.", Reload.RESTART,
        default="1m"),
    Key("enableAdmin", "boolean", "Serve the remote-management admin API at /admin.", Reload.RESTART,
        default="false"),
    Key("adminSubject", "string", "Subject of the first super admin, created on the first start.",
        Reload.RESTART, default=DEFAULT_ADMIN_SUBJECT),
), ("template", "disableIssuedAtCheck", "deploymentType", "authorityId", "disableGetSSHHosts", "type",
    "certificateAuthority", "certificateAuthorityFingerprint", "credentialsFile", "certificateIssuer", "id"))


def acmeca_path() -> Path:
    """``$ACMECA_PATH``, else ``~/.acmeca`` (step's ``$STEPPATH``)."""
    return Path(os.environ.get("ACMECA_PATH") or Path.home() / ".acmeca")


def environment_default(name: str) -> str | None:
    """``ACMECA_<NAME>`` for CLI flags that fall back to the environment (``ca-url`` -> ``ACMECA_CA_URL``)."""
    return os.environ.get("ACMECA_" + name.upper().replace("-", "_")) or None


@dataclass(frozen=True)
class AuthorityConfig:
    provisioners: tuple[ProvisionerConfig, ...] = ()
    claims: Claims = field(default_factory=Claims)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    backdate: timedelta = timedelta(minutes=1)
    enable_admin: bool = False
    admin_subject: str = DEFAULT_ADMIN_SUBJECT


@dataclass(frozen=True)
class CAConfig:
    path: Path  # the ca.json this was read from
    roots: tuple[Path, ...]
    federated_roots: tuple[Path, ...]
    crt: Path
    key: Path
    address: str
    dns_names: tuple[str, ...]
    common_name: str
    password: str
    db: DatabaseConfig
    logger: LoggerConfig
    tls: TLSOptions
    authority: AuthorityConfig
    crl: CRLConfig
    validation: ValidationSettings
    alternate_chains: tuple[tuple[Path, ...], ...]
    server: ServerSettings = field(default_factory=ServerSettings)
    weak_keys: WeakKeysConfig = field(default_factory=WeakKeysConfig)
    lint: LintConfig = field(default_factory=LintConfig)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    notes: LoadNotes = field(default_factory=LoadNotes, compare=False, repr=False)

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_listen_address(self.address)


def read_document(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; ConfigError for a missing, unreadable or non-JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", f"configuration file {path} does not exist (run 'acmeca init' first)") from None
    except OSError as exc:
        raise ConfigError("", f"cannot read configuration file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"{path} is not UTF-8 text (byte {exc.start})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("", f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise ConfigError("", f"{path} nests JSON too deeply to read") from None
    if not isinstance(document, dict):
        raise ConfigError("", f"{path} must hold a JSON object")
    return document


def load_config(path: Path) -> CAConfig:
    document = read_document(path)
    try:
        return parse_config(document, path=path)
    except ConfigError as exc:
        raise exc.within(str(path)) from None


def parse_config(document: dict[str, Any], *, path: Path) -> CAConfig:
    """The typed tree of one ca.json document; relative paths resolve against the CA's home.

    The CA's home is ``$ACMECA_PATH``, the folder above ``config/``, as step-ca resolves them against
    ``$STEPPATH``; a ca.json kept elsewhere resolves them against its own folder.
    """
    notes = LoadNotes()
    top = Reader(document, "", TOP, notes)
    base = path.parent.parent if path.parent.name == "config" else path.parent
    address = top.string("address", required=True)
    top.parsed("address", parse_listen_address, ("", 0))
    authority = _authority(top.child("authority", AUTHORITY))
    return CAConfig(
        path=path,
        roots=_roots(top, base),
        federated_roots=tuple(_path(p, e, base) for p, e in top.items("federatedRoots")),
        crt=_path("crt", top.raw("crt"), base),
        key=_path("key", top.raw("key"), base),
        address=address,
        dns_names=_dns_names(top),
        common_name=top.string("commonName", "acmeca Online CA"),
        password=top.string("password"),
        db=read_db(top.child("db", DB)),
        logger=read_logger(top.child("logger", LOGGER)),
        tls=read_tls(top.child("tls", TLS)),
        authority=authority,
        crl=read_crl(top.child("crl", CRL)),
        validation=parse_validation(top.child("validation", VALIDATION)),
        alternate_chains=tuple(
            tuple(_path(p, e, base) for p, e in _list_items(chain_path, chain))
            for chain_path, chain in top.items("alternateChains")
        ),
        server=read_server(top.child("server", SERVER)),
        weak_keys=read_weak_keys(top.child("weakKeys", WEAK_KEYS), base),
        lint=read_lint(top.child("lint", LINT)),
        metrics=read_metrics(top.child("metrics", METRICS)),
        notes=notes,
    )


def _authority(reader: Reader) -> AuthorityConfig:
    claims = read_claims(reader.child("claims", AUTHORITY_CLAIMS), Claims())
    return AuthorityConfig(
        provisioners=parse_provisioners(reader, claims),
        claims=claims,
        policy=read_policy(reader.child("policy", POLICY)),
        backdate=reader.duration("backdate", timedelta(minutes=1), minimum=timedelta(0)),
        enable_admin=reader.boolean("enableAdmin"),
        admin_subject=reader.string("adminSubject", DEFAULT_ADMIN_SUBJECT),
    )


def _path(where: str, value: Any, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(where, "must be a non-empty path")
    candidate = Path(value)
    return candidate if candidate.is_absolute() else (base / candidate).resolve()


def _list_items(where: str, value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, list):
        raise ConfigError(where, "must be a list of paths")
    return [(f"{where}[{i}]", v) for i, v in enumerate(value)]


def _roots(top: Reader, base: Path) -> tuple[Path, ...]:
    value = top.raw("root")
    if value is None or value == [] or value == "":
        raise top.fail("root", "is required")
    if isinstance(value, list):
        return tuple(_path(p, v, base) for p, v in _list_items("root", value))
    return (_path("root", value, base),)


def _dns_names(top: Reader) -> tuple[str, ...]:
    names = top.strings("dnsNames") or DEFAULT_DNS_NAMES
    if not all(names):
        raise top.fail("dnsNames", "must not hold an empty name")
    return tuple(names)
