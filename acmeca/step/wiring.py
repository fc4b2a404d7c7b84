"""Assemble the step front end's services from the process graph (called by the composition root).

Kept beside the step package so the composition root grows by one call, and everything the token API needs
(replay store, CRL service, background refresh and sweep) is wired in one place that knows why.
"""

from __future__ import annotations

from acmeca.config import CAConfig
from acmeca.domain.clock import Clock
from acmeca.engine.crl import CRLService
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.provisioners import ProvisionerCatalog
from acmeca.engine.trust import TrustBundle
from acmeca.runtime import Runtime
from acmeca.step.ott import TokenVerifier
from acmeca.step.service import StepService
from acmeca.store.database import Database


def build_step_service(
    *, config: CAConfig, database: Database, engine: IssuingEngine, catalog: ProvisionerCatalog,
    trust: TrustBundle, clock: Clock, runtime: Runtime, crl_url: str, background: bool = True,
) -> StepService:
    """The StepService plus its CRL: regenerated on revocation and, with ``background``, on a timer."""
    crl = CRLService(
        config=config.crl, authority=engine.authority, db=database, clock=clock, runtime=runtime,
        idp_url=config.crl.idp_url or crl_url,
    )
    engine.on_revocation(crl.on_revocation)
    verifier = TokenVerifier(
        catalog=catalog, authority_claims=config.authority.claims, dns_names=config.dns_names,
        roots=trust.federation, db=database, clock=clock,
    )
    if background:
        runtime.spawn("used-token-sweep", verifier.sweep_forever)
        if crl.enabled:
            runtime.spawn("crl-refresh", crl.refresh_forever)
    return StepService(
        engine=engine, verifier=verifier, catalog=catalog, authority_claims=config.authority.claims, crl=crl,
        clock=clock,
    )
