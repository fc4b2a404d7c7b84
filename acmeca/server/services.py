"""Build the service graph of one process from a validated config."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from datetime import timedelta

from acmeca.acme.service.provisioner import check_acme_document
from acmeca.config import CAConfig
from acmeca.crypto import certs
from acmeca.crypto.keys import WrongPassword
from acmeca.domain.clock import Clock, SystemClock
from acmeca.domain.errors import Malformed
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.name_policy import StoredNamePolicy
from acmeca.engine.provisioners import ProvisionerCatalog
from acmeca.engine.trust import TrustBundle, load_alternate_chains, load_signing_authority, load_trust
from acmeca.runtime import Runtime
from acmeca.step.service import StepService
from acmeca.step.wiring import build_step_service
from acmeca.store import issuers
from acmeca.store.database import Database, settings_from_ca_json
from acmeca.store.migrate import SchemaMismatch, check_current, upgrade

log = logging.getLogger(__name__)


class StartupError(Exception):
    """A one-line reason the server cannot start."""


@dataclass
class Services:
    config: CAConfig
    clock: Clock
    database: Database
    runtime: Runtime
    trust: TrustBundle
    engine: IssuingEngine
    catalog: ProvisionerCatalog
    ssl_context: ssl.SSLContext | None = None
    name_policy: StoredNamePolicy | None = None
    step: StepService | None = None

    async def close(self) -> None:
        await self.runtime.close()
        await self.database.close()


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


async def open_database(config: CAConfig, *, migrate: bool | None) -> Database:
    """Connect and make sure the schema is current.

    ``migrate=None`` is serve's default: the embedded SQLite database is migrated in place, while PostgreSQL
    (shared by replicas, owned by an operator) must be migrated explicitly.
    """
    if not config.db:
        raise StartupError("ca.json has no db: acmeca needs a database (sqlite or postgresql)")
    try:
        settings = settings_from_ca_json(config.db)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    database = Database.connect(settings)
    try:
        if migrate or (migrate is None and database.dialect == "sqlite"):
            await upgrade(database)
        else:
            await check_current(database)
    except SchemaMismatch as exc:
        await database.close()
        raise StartupError(str(exc)) from None
    except Exception as exc:
        await database.close()
        raise StartupError(f"cannot open the database: {_first_line(exc)}") from None
    return database


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


async def build_services(
    config: CAConfig, password: bytes | None, *, migrate: bool | None = None, clock: Clock | None = None
) -> Services:
    clock = clock or SystemClock()
    try:
        trust = load_trust(config.roots, config.federated_roots, config.crt)
        authority = load_signing_authority(config.crt, config.key, password or config.password.encode() or None)
        authority = load_alternate_chains(authority, config.alternate_chains)
    except WrongPassword as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise StartupError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except ValueError as exc:
        raise StartupError(_first_line(exc)) from None
    _check_acme_provisioners(config)
    database = await open_database(config, migrate=migrate)
    runtime = Runtime()
    now = clock.now()
    for certificate, is_root in [*((c, True) for c in trust.roots), *((c, False) for c in authority.chain)]:
        async with database.write() as tx:
            await issuers.ensure(
                tx, ski=certs.subject_key_id(certificate), subject=certificate.subject.rfc4514_string(),
                der=certs.to_der(certificate), is_root=is_root, not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc, at=now,
            )
    engine = IssuingEngine(
        authority=authority, db=database, clock=clock, runtime=runtime,
        backdate=config.authority.backdate, crl_urls=crl_urls(config),
    )
    catalog = ProvisionerCatalog(
        config.authority.provisioners, database, clock, refresh_interval=timedelta(seconds=2)
    )
    name_policy = _name_policy(config, database, clock)
    engine.set_name_policy(name_policy)
    step = build_step_service(
        config=config, database=database, engine=engine, catalog=catalog, trust=trust, clock=clock,
        runtime=runtime, crl_url=next(iter(crl_urls(config)), ""),
    )
    return Services(
        config=config, clock=clock, database=database, runtime=runtime, trust=trust, engine=engine,
        catalog=catalog, name_policy=name_policy, step=step,
    )


def _check_acme_provisioners(config: CAConfig) -> None:
    """ACME profiles, renewal windows and rate limits in ca.json are refused at start, with the reason."""
    for document in config.authority.provisioners:
        if document.get("type") == "ACME":
            try:
                check_acme_document(document, config.authority.claims)
            except ValueError as exc:
                raise StartupError(f"{config.path}: {exc}") from None


def _name_policy(config: CAConfig, database: Database, clock: Clock) -> StoredNamePolicy:
    """Authority policy from ca.json (refused at start when a rule is invalid) plus the stored levels."""
    try:
        return StoredNamePolicy(database, clock, config_policy=config.authority.policy)
    except Malformed as exc:
        raise StartupError(f"authority.policy in {config.path}: {exc.detail}") from None
