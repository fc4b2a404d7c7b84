"""SIGHUP: re-read ca.json and apply everything that can change without a restart; name what cannot.

The new file goes through the same loader as at start. A file that no longer parses, a policy rule that does
not compile or an intermediate that does not load is one error line, and the server keeps running on what it
had: nothing is applied half. What is applied: validation settings (top level and per provisioner),
provisioners (with their profiles, renewal info, rate limits and CAA identities), the authority policy, the
logger, ``lint.mode`` (the engine reads it at each issuance), and the intermediate certificate and key
(re-read with the password ``serve`` was given).
"""

from __future__ import annotations

import dataclasses
import logging

from acmeca.config import CAConfig, ConfigError, Reload, load_config
from acmeca.config.loader import AUTHORITY, TOP
from acmeca.crypto import certs
from acmeca.engine.name_policy import authority_policy
from acmeca.engine.trust import SigningAuthority
from acmeca.logs import setup_logging
from acmeca.server.database import StartupError
from acmeca.server.graph import ServiceGraph, record_issuers, signing_authority
from acmeca.server.stored_management import IGNORED, served_from_config

log = logging.getLogger(__name__)

# Typed field -> ca.json key, for the top level and ``authority``: how a change is named in the log.
_TOP_KEYS = {
    "roots": "root", "federated_roots": "federatedRoots", "crt": "crt", "key": "key", "password": "password",
    "address": "address", "dns_names": "dnsNames", "common_name": "commonName", "db": "db", "logger": "logger",
    "tls": "tls", "crl": "crl", "validation": "validation", "alternate_chains": "alternateChains",
    "server": "server",
    "weak_keys": "weakKeys", "lint": "lint",
    "metrics": "metrics",
}
_AUTHORITY_KEYS = {
    "provisioners": "provisioners", "claims": "claims", "policy": "policy", "backdate": "backdate",
    "enable_admin": "enableAdmin", "admin_subject": "adminSubject",
}


def changed_keys(old: CAConfig, new: CAConfig) -> list[str]:
    """The ca.json keys whose parsed values differ, spelled as in the file."""
    changed = [key for name, key in _TOP_KEYS.items() if getattr(old, name) != getattr(new, name)]
    changed += [
        f"authority.{key}" for name, key in _AUTHORITY_KEYS.items()
        if getattr(old.authority, name) != getattr(new.authority, name)
    ]
    return changed


def _needs_restart(key: str) -> bool:
    if key == "intermediate":
        return False
    section, _, name = key.rpartition(".")
    spec = AUTHORITY if section == "authority" else TOP
    return spec.key(name).reload is Reload.RESTART


async def reload_config(graph: ServiceGraph) -> bool:
    """Apply a new ca.json; returns whether it was applied."""
    path = graph.config.path
    try:
        new = load_config(path)
        policy = authority_policy(new.authority.policy)
        authority = _new_authority(graph, new)
    except ConfigError as exc:
        error = exc if exc.source else exc.within(str(path))
        log.error("configuration not reloaded; keeping the running one", extra={"reason": str(error)})
        return False
    except StartupError as exc:
        log.error("configuration not reloaded; keeping the running one", extra={"reason": str(exc)})
        return False
    old = graph.config
    changed = changed_keys(old, new)
    graph.live.replace(new)
    graph.catalog.replace_config(served_from_config(new, remote_management=graph.remote_management))
    if graph.remote_management and new.authority.provisioners:
        log.warning(IGNORED, extra={"provisioners": [p.name for p in new.authority.provisioners]})
    graph.name_policy.replace_config_policy(policy)
    if authority is not None:
        graph.engine.replace_authority(authority)
        await record_issuers(graph.database, graph.trust, authority, graph.clock)
        changed.append("intermediate")
    restart = [key for key in changed if _needs_restart(key)]
    if restart:
        log.warning("configuration changes that need a restart to take effect", extra={"keys": restart})
    # The confirmation is written under whichever logger settings let it through: the new ones when they
    # show info lines, else the ones being replaced.
    new_logger_first = new.logger.level_number <= logging.INFO
    if new.logger != old.logger and new_logger_first:
        setup_logging(new.logger.format, new.logger.level_number)
    log.info("configuration reloaded", extra={"path": str(path), "changed": changed or "nothing"})
    if new.logger != old.logger and not new_logger_first:
        setup_logging(new.logger.format, new.logger.level_number)
    return True


def _new_authority(graph: ServiceGraph, new: CAConfig) -> SigningAuthority | None:
    """The intermediate from disk, when its files (or their password) are named differently or were rotated."""
    authority = signing_authority(new, graph.password)
    current = graph.engine.authority
    return None if _identity(authority) == _identity(current) else authority


@dataclasses.dataclass(frozen=True)
class _Identity:
    certificate: bytes
    alternates: tuple[tuple[bytes, ...], ...]
    retired: tuple[bytes, ...]


def _identity(authority: SigningAuthority) -> _Identity:
    return _Identity(
        certs.to_der(authority.certificate),
        tuple(tuple(certs.to_der(c) for c in chain) for chain in authority.alternate_chains),
        tuple(certs.to_der(c) for c in authority.retired),
    )
