"""CAA recheck at finalize: an authorization validated longer ago than ``caaRecheckAfter`` is checked again.

The Baseline Requirements let a CA rely on a CAA check for at most 8 hours; reused authorizations live for
days, so finalize asks the DNS again for every identifier whose check is older than
``validation.caaRecheckAfter`` (default 7h). The method that validated the authorization is what
``validationmethods`` is compared with, and the account URL is what ``accounturi`` is compared with.
"""

from __future__ import annotations

from acmeca.acme.service.challenges import ValidationContext, authz_identifier
from acmeca.acme.service.provisioner import AcmeProvisioner
from acmeca.domain.acme import AuthorizationRecord, OrderRecord
from acmeca.domain.clock import Clock
from acmeca.domain.errors import CAAProblem, Subproblem
from acmeca.domain.status import ChallengeStatus, ChallengeType
from acmeca.store import acme_orders
from acmeca.store.database import Database


class CAARecheck:
    def __init__(self, db: Database, clock: Clock, validation: ValidationContext) -> None:
        self._db = db
        self._clock = clock
        self._validation = validation

    async def check(self, provisioner: AcmeProvisioner, order: OrderRecord, account_uri: str | None) -> None:
        """Raise ``caa`` with one subproblem per refused identifier; a no-op without caaIdentities."""
        checker = self._validation.check_caa
        if not provisioner.caa_identities or checker is None:
            return
        settings = self._validation.settings_for(provisioner)
        horizon = self._clock.now() - settings.caa_recheck_after
        async with self._db.read() as tx:
            authzs = [await acme_orders.authz_by_id(tx, authz_id) for authz_id in order.authz_ids]
        problems: list[Subproblem] = []
        for authz in authzs:
            if authz is None or (authz.validated_at is not None and authz.validated_at > horizon):
                continue
            verdict = await checker(
                authz_identifier(authz), caa_identities=provisioner.caa_identities, account_uri=account_uri,
                method=_method(authz), settings=settings,
            )
            if not verdict.ok:
                error = verdict.error or CAAProblem("CAA forbids issuance")
                problems.append(Subproblem(error=error, identifier=authz.identifier))
        if problems:
            detail = "; ".join(p.error.detail for p in problems)
            raise CAAProblem(f"CAA recheck at finalize refused issuance: {detail}", subproblems=problems)


def _method(authz: AuthorizationRecord) -> ChallengeType | None:
    valid = [c.type for c in authz.challenges if c.status is ChallengeStatus.VALID]
    return valid[0] if valid else None

