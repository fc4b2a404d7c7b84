"""SIGHUP: re-read ca.json and swap in its provisioners and authority policy without a restart.

This is what ``acmeca provisioner add|update|remove`` asks the operator to do when remote management is off.
A config that no longer parses (or an invalid policy) is logged and ignored: the server keeps running on
what it had, rather than dying on a typo.
"""

from __future__ import annotations

import logging

from acmeca.acme.service.provisioner import check_acme_document
from acmeca.config import ConfigError, load_config
from acmeca.domain.errors import Malformed
from acmeca.policy import X509Policy
from acmeca.server.services import Services

log = logging.getLogger(__name__)


def reload_config(services: Services) -> None:
    path = services.config.path
    try:
        config = load_config(path)
        X509Policy.from_document(config.authority.policy)
        for document in config.authority.provisioners:
            if document.get("type") == "ACME":
                check_acme_document(document, config.authority.claims)  # profiles, renewalInfo, rateLimits
    except (ConfigError, Malformed, ValueError) as exc:
        log.error("configuration not reloaded", extra={"path": str(path), "reason": str(exc)})
        return
    services.catalog.replace_config(config.authority.provisioners)
    if services.name_policy is not None:
        services.name_policy.replace_config_policy(config.authority.policy)
    log.info("configuration reloaded", extra={"path": str(path), "provisioners": len(config.authority.provisioners)})
