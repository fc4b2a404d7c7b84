"""The composition root: one function builds every service of a process, before the first request.

Production (`acmeca serve`), the offline CLI commands and every test fixture build the same object graph
through :func:`service_graph`; tests pass :class:`GraphOptions` (a frozen clock, a stub validator, short
timers) instead of assembling services by hand. Everything with a lifetime (database pools, the CPU
executor, the job worker, sweeps, CRL refresh, the TLS certificate's renewal) is owned by the one context
and closed when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from acmeca.acme.service.challenges import ValidationContext
from acmeca.acme.service.services import AcmeServices, build_acme_services
from acmeca.admin.service.admins import AdminService
from acmeca.admin.service.auth import AdminAuthenticator
from acmeca.admin.service.eab import EabKeyService
from acmeca.admin.service.policies import PolicyService
from acmeca.admin.service.provisioner_admin import ProvisionerAdminService
from acmeca.admin.service.services import AdminServices
from acmeca.config import CAConfig, ConfigError, LiveConfig
from acmeca.crypto import certs
from acmeca.crypto.keys import WrongPassword
from acmeca.crypto.weakkeys import WeakKeyChecker
from acmeca.domain.clock import Clock, SystemClock
from acmeca.domain.errors import CAError
from acmeca.engine.catalog import ProvisionerCatalog
from acmeca.engine.crl import CRLService
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.name_policy import StoredNamePolicy, authority_policy
from acmeca.engine.trust import (
    SigningAuthority,
    TrustBundle,
    load_alternate_chains,
    load_signing_authority,
    load_trust,
)
from acmeca.policy import X509Policy
from acmeca.runtime import Runtime
from acmeca.server.database import StartupError, first_line, open_database
from acmeca.server.stored_management import import_config_provisioners, served_from_config
from acmeca.server.tls_certificate import ServerCertificate
from acmeca.step.ott import TokenVerifier
from acmeca.step.service import StepService
from acmeca.store import issuers
from acmeca.store.database import Database
from acmeca.validation.caa import check_caa
from acmeca.validation.dispatch import validate

log = logging.getLogger(__name__)
CATALOG_REFRESH = timedelta(seconds=2)


@dataclass(frozen=True)
class GraphOptions:
    """What tests and offline commands may change; ``acmeca serve`` passes none."""

    clock: Clock | None = None
    validation: ValidationContext | None = None  # None: the real validators, reading the live settings
    poll_interval: float = 1.0  # the ACME job worker's idle poll
    background: bool = True  # job worker, sweeps, CRL refresh, TLS renewal; off for one-shot CLI commands
    server_tls: bool = True  # issue (and renew) the CA's own TLS certificate
    cpu_workers: int | None = None


@dataclass
class ServiceGraph:
    live: LiveConfig
    password: bytes | None  # what `serve` was given: SIGHUP re-reads the intermediate key with it
    clock: Clock
    database: Database
    runtime: Runtime
    trust: TrustBundle
    engine: IssuingEngine
    catalog: ProvisionerCatalog
    name_policy: StoredNamePolicy
    crl: CRLService
    step: StepService
    acme: AcmeServices
    admin: AdminServices
    remote_management: bool = False  # as started: provisioners live in the database, ca.json's list is ignored
    tls: ServerCertificate | None = None

    @property
    def config(self) -> CAConfig:
        return self.live.current


def signing_authority(config: CAConfig, password: bytes | None) -> SigningAuthority:
    """The intermediate, its key and alternate chains; StartupError with a one-line reason."""
    try:
        authority = load_signing_authority(config.crt, config.key, password or config.password.encode() or None)
        return load_alternate_chains(authority, config.alternate_chains)
    except WrongPassword as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise StartupError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except CAError as exc:  # an unreadable or malformed key file
        raise StartupError(exc.detail) from None
    except ValueError as exc:
        raise StartupError(first_line(exc)) from None


def crl_urls(config: CAConfig) -> tuple[str, ...]:
    if not config.crl.enabled:
        return ()
    if config.crl.idp_url:
        return (config.crl.idp_url,)
    _host, port = config.host_port
    name = config.dns_names[0]
    authority = f"[{name}]" if ":" in name else name
    if port != 443:
        authority += f":{port}"
    return (f"https://{authority}/1.0/crl",)


async def record_issuers(database: Database, trust: TrustBundle, authority: SigningAuthority, clock: Clock) -> None:
    """Every CA certificate in the issuers table: ARI and revocation find certificates by their issuer."""
    now = clock.now()
    async with database.write() as tx:
        chain = (*authority.chain, *authority.retired)
        for certificate, is_root in [*((c, True) for c in trust.roots), *((c, False) for c in chain)]:
            await issuers.ensure(
                tx, ski=certs.subject_key_id(certificate), subject=certificate.subject.rfc4514_string(),
                der=certs.to_der(certificate), is_root=is_root, not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc, at=now,
            )


def _load_trust(config: CAConfig) -> TrustBundle:
    try:
        return load_trust(config.roots, config.federated_roots, config.crt)
    except OSError as exc:
        raise StartupError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except ValueError as exc:
        raise StartupError(first_line(exc)) from None


def real_validation(live: LiveConfig) -> ValidationContext:
    return ValidationContext(validate=validate, top_level=lambda: live.current.validation, check_caa=check_caa)


@asynccontextmanager
async def service_graph(
    config: CAConfig, password: bytes | None, *, migrate: bool | None = None, options: GraphOptions | None = None,
) -> AsyncIterator[ServiceGraph]:
    """Build every service, start the background work, yield the graph, and close it all on the way out."""
    graph = await _build(config, password, migrate=migrate, options=options or GraphOptions())
    try:
        await _start(graph, options or GraphOptions())
        yield graph
    finally:
        await graph.runtime.close()
        await graph.database.close()


async def _build(
    config: CAConfig, password: bytes | None, *, migrate: bool | None, options: GraphOptions
) -> ServiceGraph:
    clock = options.clock or SystemClock()
    live = LiveConfig(config)
    trust = _load_trust(config)
    authority = signing_authority(config, password)
    try:
        config_policy = authority_policy(config.authority.policy)
    except ConfigError as exc:
        raise StartupError(str(exc.within(str(config.path)))) from None
    database = await open_database(config, migrate=migrate)
    try:
        return _wire(config, password, live, trust, authority, config_policy, database, clock, options)
    except BaseException:
        await database.close()
        raise


def _wire(
    config: CAConfig, password: bytes | None, live: LiveConfig, trust: TrustBundle, authority: SigningAuthority,
    config_policy: X509Policy, database: Database, clock: Clock, options: GraphOptions,
) -> ServiceGraph:
    """Every service over an open database; nothing here does I/O."""
    runtime = Runtime(cpu_workers=options.cpu_workers) if options.cpu_workers else Runtime()
    name_policy = StoredNamePolicy(database, clock, config_policy=config_policy)
    engine = IssuingEngine(
        authority=authority, db=database, clock=clock, runtime=runtime,
        backdate=config.authority.backdate, crl_urls=crl_urls(config), name_policy=name_policy,
        weak_keys=WeakKeyChecker(blocklist_dir=config.weak_keys.blocklist_dir),
        lint_mode=lambda: live.current.lint.mode,
    )
    remote_management = config.authority.enable_admin
    catalog = ProvisionerCatalog(
        served_from_config(config, remote_management=remote_management), database, clock,
        authority_claims=config.authority.claims, refresh_interval=CATALOG_REFRESH,
    )
    crl = CRLService(
        config=config.crl, authority=lambda: engine.authority, db=database, clock=clock, runtime=runtime,
        idp_url=next(iter(crl_urls(config)), ""),
    )
    engine.on_revocation(crl.on_revocation)
    verifier = TokenVerifier(
        catalog=catalog, dns_names=config.dns_names, roots=trust.federation, db=database, clock=clock,
    )
    step = StepService(engine=engine, verifier=verifier, catalog=catalog, crl=crl, clock=clock)
    acme = build_acme_services(
        clock=clock, db=database, engine=engine, catalog=catalog, name_policy=name_policy,
        validation=options.validation or real_validation(live), poll_interval=options.poll_interval,
    )
    admin = _admin_services(config, database, catalog, name_policy, trust, clock, acme)
    return ServiceGraph(
        live=live, password=password, clock=clock, database=database, runtime=runtime, trust=trust, engine=engine,
        catalog=catalog, name_policy=name_policy, crl=crl, step=step, acme=acme, admin=admin,
        remote_management=remote_management,
    )


def _admin_services(
    config: CAConfig, database: Database, catalog: ProvisionerCatalog, name_policy: StoredNamePolicy,
    trust: TrustBundle, clock: Clock, acme: AcmeServices,
) -> AdminServices:
    return AdminServices(
        auth=AdminAuthenticator(
            roots=trust.roots, dns_names=config.dns_names, catalog=catalog, db=database, clock=clock,
        ),
        admins=AdminService(database, catalog, clock),
        provisioners=ProvisionerAdminService(catalog, database, clock, config.authority.claims),
        policies=PolicyService(database, clock, config.dns_names, on_change=name_policy.invalidate),
        eab=EabKeyService(database, catalog, clock),
        renewals=acme.renewals,
    )


async def _start(graph: ServiceGraph, options: GraphOptions) -> None:
    """What must hold before the first request: issuers recorded, ca.json's provisioners imported into the
    database (remote management, once), the first admin, the TLS certificate."""
    config = graph.config
    await record_issuers(graph.database, graph.trust, graph.engine.authority, graph.clock)
    if graph.remote_management:
        await import_config_provisioners(graph.database, config, graph.clock)
        graph.catalog.invalidate()
        await graph.admin.admins.ensure_first_admin(config.authority.admin_subject)
    if options.server_tls:
        graph.tls = ServerCertificate(graph.live, graph.engine, graph.trust, graph.clock)
        await graph.tls.issue()
    if not options.background:
        return
    spawn = graph.runtime.spawn
    spawn("database-probe", graph.database.watch)
    spawn("acme-jobs", graph.acme.worker.run_forever)
    spawn("acme-nonce-sweep", graph.acme.nonces.sweep_forever)
    spawn("used-token-sweep", graph.step.verifier.sweep_forever)
    if graph.crl.enabled:
        spawn("crl-refresh", graph.crl.refresh_forever)
    if graph.tls is not None:
        spawn("tls-certificate-renewal", graph.tls.renew_forever)
