"""Every ACME service of one sub-application, built from the shared collaborators.

The composition root (:mod:`acmeca.server.graph`) builds one ``AcmeServices`` per process before the first
request; the web edge reads it from an AppKey. The services themselves never see aiohttp.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass

from acmeca.acme.service.accounts import AccountService
from acmeca.acme.service.caa_recheck import CAARecheck
from acmeca.acme.service.certificates import CertificateService
from acmeca.acme.service.challenges import VALIDATE_JOB, ChallengeService, ValidationContext
from acmeca.acme.service.finalize import FINALIZE_JOB, FinalizeService
from acmeca.acme.service.nonces import NonceService
from acmeca.acme.service.orders import OrderService
from acmeca.acme.service.provisioner import AcmeProvisioners
from acmeca.acme.service.ratelimits import RateLimiter
from acmeca.acme.service.renewals import RenewalService
from acmeca.acme.service.worker import JobKind, JobWorker
from acmeca.domain.clock import Clock
from acmeca.engine.catalog import ProvisionerCatalog
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.name_policy import StoredNamePolicy
from acmeca.store.database import Database


@dataclass(frozen=True)
class AcmeServices:
    provisioners: AcmeProvisioners
    nonces: NonceService
    accounts: AccountService
    orders: OrderService
    challenges: ChallengeService
    finalize: FinalizeService
    certificates: CertificateService
    worker: JobWorker
    renewals: RenewalService


def worker_identity() -> str:
    """A lease owner name unique to this process and start, readable in the jobs table."""
    return f"{socket.gethostname()}:{secrets.token_hex(4)}"


def build_acme_services(
    *, clock: Clock, db: Database, engine: IssuingEngine, catalog: ProvisionerCatalog, name_policy: StoredNamePolicy,
    validation: ValidationContext, poll_interval: float = 1.0,
) -> AcmeServices:
    owner = worker_identity()
    provisioners = AcmeProvisioners(catalog)
    renewals = RenewalService(db, clock, engine)
    limiter = RateLimiter(db, clock)
    orders = OrderService(
        db, clock, name_policy=name_policy, renewals=renewals, limiter=limiter, backdate=engine.backdate
    )
    worker_kinds: dict[str, JobKind] = {}
    worker = JobWorker(db, clock, owner=owner, kinds=worker_kinds, poll_interval=poll_interval)
    finalize = FinalizeService(
        db, clock, engine, orders, provisioners, owner=owner, renewals=renewals,
        caa=CAARecheck(db, clock, validation), worker=worker, validation=validation,
    )
    challenges = ChallengeService(db, clock, provisioners, validation, worker=worker, limiter=limiter)
    worker_kinds[VALIDATE_JOB] = JobKind(run=challenges.run, abandon=challenges.abandon)
    worker_kinds[FINALIZE_JOB] = JobKind(run=finalize.resume, abandon=finalize.abandon)
    return AcmeServices(
        provisioners=provisioners, nonces=NonceService(db, clock), accounts=AccountService(db, clock, limiter=limiter),
        orders=orders, challenges=challenges, finalize=finalize,
        certificates=CertificateService(clock, engine, orders), worker=worker,
        renewals=renewals,
    )
