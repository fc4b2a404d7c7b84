"""The typed configuration tree: ca.json loaded, validated and frozen once; the registry of its keys.

A leaf package: it imports only :mod:`acmeca.domain`, so every layer may read its types.
"""

from acmeca.config.acme import Limit, ProfileConfig, RateLimits, RenewalInfoSettings
from acmeca.config.claims import parse_claims
from acmeca.config.errors import ConfigError
from acmeca.config.live import LiveConfig
from acmeca.config.loader import (
    DEFAULT_ADMIN_SUBJECT,
    AuthorityConfig,
    CAConfig,
    acmeca_path,
    environment_default,
    load_config,
    parse_config,
    read_document,
)
from acmeca.config.metrics import MetricsSettings
from acmeca.config.provisioners import (
    ACMEProvisionerConfig,
    JWKProvisionerConfig,
    K8sSAProvisionerConfig,
    OIDCProvisionerConfig,
    ProvisionerConfig,
    X5CProvisionerConfig,
    parse_provisioner,
    provisioner_type,
)
from acmeca.config.registry import SECTIONS, Key, LoadNotes, Reload, Section
from acmeca.config.sections import (
    CRLConfig,
    DatabaseConfig,
    LoggerConfig,
    NameLists,
    PolicyConfig,
    TLSOptions,
    parse_database,
)
from acmeca.config.server import ServerSettings
from acmeca.config.validation import ValidationOverride, ValidationSettings

__all__ = [
    "DEFAULT_ADMIN_SUBJECT",
    "SECTIONS",
    "ACMEProvisionerConfig",
    "AuthorityConfig",
    "CAConfig",
    "CRLConfig",
    "ConfigError",
    "DatabaseConfig",
    "JWKProvisionerConfig",
    "K8sSAProvisionerConfig",
    "Key",
    "Limit",
    "LiveConfig",
    "LoadNotes",
    "LoggerConfig",
    "MetricsSettings",
    "NameLists",
    "OIDCProvisionerConfig",
    "PolicyConfig",
    "ProfileConfig",
    "ProvisionerConfig",
    "RateLimits",
    "Reload",
    "RenewalInfoSettings",
    "Section",
    "ServerSettings",
    "TLSOptions",
    "ValidationOverride",
    "ValidationSettings",
    "X5CProvisionerConfig",
    "acmeca_path",
    "environment_default",
    "load_config",
    "parse_claims",
    "parse_config",
    "parse_database",
    "parse_provisioner",
    "provisioner_type",
    "read_document",
]
