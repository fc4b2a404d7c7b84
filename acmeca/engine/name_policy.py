"""The engine's NamePolicy: authority → provisioner → ACME EAB-key levels; a name must pass every level.

Policies live in the database (admin API) and, for the authority level, in ``ca.json``; the stored
authority policy takes precedence over the ca.json one when both exist. Every replica re-reads the small
policies table at most every ``refresh_interval`` and at once after its own writes, so a change made
through any replica is enforced everywhere within seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from acmeca.config import ConfigError, PolicyConfig
from acmeca.domain.clock import Clock
from acmeca.domain.errors import Forbidden, Malformed, RejectedIdentifier, Subproblem
from acmeca.domain.identifiers import Identifier, IdentifierType
from acmeca.domain.management import PolicyScope
from acmeca.engine.requests import IssuanceRequest
from acmeca.policy import CertificateNames, Violation, X509Policy
from acmeca.store import policies
from acmeca.store.database import Database

log = logging.getLogger(__name__)
AUTHORITY_SCOPE_ID = ""


def request_names(request: IssuanceRequest) -> CertificateNames:
    """Every name the certificate will carry, the CN included (taken from a copied subject on renewal)."""
    common_name = request.common_name
    if request.subject_override is not None:
        from cryptography.x509.oid import NameOID

        values = request.subject_override.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(values[0].value) if values else None
    return CertificateNames(
        common_name=common_name,
        dns=[i.value for i in request.identifiers if i.type is IdentifierType.DNS],
        ips=[i.value for i in request.identifiers if i.type is IdentifierType.IP],
        emails=list(request.emails), uris=list(request.uris),
    )


class StoredNamePolicy:
    """Implements :class:`acmeca.engine.issuer.NamePolicy` over the policies table plus ca.json."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        config_policy: X509Policy | None = None,
        refresh_interval: timedelta = timedelta(seconds=2),
    ) -> None:
        self._db = db
        self._clock = clock
        self._config_policy = config_policy or X509Policy.from_document(None)
        self._refresh_interval = refresh_interval
        self._policies: dict[tuple[PolicyScope, str], X509Policy] = {}
        self._loaded_at: datetime | None = None
        self._lock = asyncio.Lock()

    def replace_config_policy(self, policy: X509Policy) -> None:
        """Swap the ca.json authority policy after a SIGHUP reload."""
        self._config_policy = policy

    def invalidate(self) -> None:
        self._loaded_at = None

    async def check(self, request: IssuanceRequest) -> None:
        """Raise Forbidden (403) naming the first refused name."""
        names = request_names(request)
        provisioner_id = request.provisioner.id if request.provisioner else None
        violation = await self.violation(names, provisioner_id=provisioner_id, eab_key_id=request.acme_eab_key_id)
        if violation is not None:
            raise Forbidden(str(violation))

    async def check_identifiers(
        self, identifiers: Sequence[Identifier], *, provisioner_id: str | None, eab_key_id: str | None
    ) -> None:
        """ACME newOrder: refuse with ``rejectedIdentifier``, one subproblem per refused identifier."""
        problems: list[Subproblem] = []
        for identifier in identifiers:
            names = CertificateNames(
                dns=[identifier.value] if identifier.type is IdentifierType.DNS else [],
                ips=[identifier.value] if identifier.type is IdentifierType.IP else [],
            )
            found = await self.violation(names, provisioner_id=provisioner_id, eab_key_id=eab_key_id)
            if found is not None:
                problems.append(Subproblem(RejectedIdentifier(f"{found}: not authorized"), identifier))
        if len(problems) == 1:
            raise RejectedIdentifier(problems[0].error.detail, subproblems=problems)
        if problems:
            raise RejectedIdentifier(f"{len(problems)} identifiers are not authorized", subproblems=problems)

    async def violation(
        self, names: CertificateNames, *, provisioner_id: str | None, eab_key_id: str | None
    ) -> Violation | None:
        for level in await self.levels(provisioner_id=provisioner_id, eab_key_id=eab_key_id):
            found = level.violation(names)
            if found is not None:
                return found
        return None

    async def levels(self, *, provisioner_id: str | None, eab_key_id: str | None) -> list[X509Policy]:
        """The configured levels that apply, authority first."""
        await self._refresh()
        authority = self._policies.get((PolicyScope.AUTHORITY, AUTHORITY_SCOPE_ID), self._config_policy)
        levels = [authority]
        if provisioner_id and (found := self._policies.get((PolicyScope.PROVISIONER, provisioner_id))):
            levels.append(found)
        if eab_key_id and (found := self._policies.get((PolicyScope.EAB_KEY, eab_key_id))):
            levels.append(found)
        return [level for level in levels if not level.is_empty]

    async def _refresh(self) -> None:
        now = self._clock.now()
        if self._loaded_at is not None and now - self._loaded_at < self._refresh_interval:
            return
        async with self._lock:
            if self._loaded_at is not None and now - self._loaded_at < self._refresh_interval:
                return
            async with self._db.read() as tx:
                rows = await policies.load_all(tx)
            loaded: dict[tuple[PolicyScope, str], X509Policy] = {}
            for stored in rows:
                try:
                    loaded[(stored.scope, stored.scope_id)] = X509Policy.from_document(stored.document)
                except Exception:  # a row written by a newer release: refuse everything at that level instead
                    log.exception("stored policy cannot be parsed", extra={"scope": stored.scope.value})
                    loaded[(stored.scope, stored.scope_id)] = X509Policy.from_document(
                        {"x509": {"allow": {"commonNames": ["\u2205-unparseable-policy"]}}}
                    )
            self._policies = loaded
            self._loaded_at = now


def authority_policy(config: PolicyConfig) -> X509Policy:
    """ca.json's ``authority.policy`` (typed at load) as an evaluable policy.

    The loader checked its shape; each rule's syntax (``*.*.example.com``, ``10.0.0.0/33``) is the policy
    layer's to judge, so a bad rule surfaces here as a ConfigError under ``authority.policy``.
    """
    sides = {
        side: {"dns": list(names.dns), "ips": list(names.ip), "emails": list(names.email), "uris": list(names.uri),
               "commonNames": list(names.cn)}
        for side, names in (("allow", config.allow), ("deny", config.deny))
    }
    document = {"x509": {**sides, "allowWildcardNames": config.allow_wildcard_names}}
    try:
        return X509Policy.from_document(document)
    except Malformed as exc:
        raise ConfigError("authority.policy", exc.detail) from None
