"""Challenges: accept a client's "ready" signal, validate, persist the verdict, roll up.

A challenge POST moves the challenge pending→processing, fixes the key authorization (so a key rollover in
flight cannot change what is checked) and writes a ``validate`` job row leased to this process, all in one
transaction. Only then does the validation start, and the POST waits up to ``validation.settleWithin`` for
it, so a quick one is answered ``valid``/``invalid`` with the authorization and orders already moved. A
slower one goes on in the background; if this process dies first, the lease runs out and a worker on any
replica runs the job. Whoever settles first wins the compare-and-set on the challenge's status; the verdict
of any other attempt is dropped. One validation per POST: the validator retries transient failures inside
its own time budget; whatever it returns is final.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from acmeca import metrics
from acmeca.acme.service.accounts import summary_json
from acmeca.acme.service.orders import failed_validation_key
from acmeca.acme.service.pacing import MIN_RETRY_AFTER, retry_after, settled_within
from acmeca.acme.service.provisioner import AcmeProvisioner, AcmeProvisioners
from acmeca.acme.service.ratelimits import RateLimiter
from acmeca.acme.service.worker import JobWorker
from acmeca.config import ValidationSettings
from acmeca.domain.acme import AccountRecord, AuthorizationRecord, ChallengeRecord
from acmeca.domain.clock import Clock
from acmeca.domain.errors import CAAProblem, CAError, ErrorSummary, Malformed, NotFound, RateLimited, Subproblem
from acmeca.domain.identifiers import Identifier
from acmeca.domain.records import JobRecord
from acmeca.domain.status import AuthorizationStatus, ChallengeStatus, ChallengeType
from acmeca.store import acme_moves, jobs
from acmeca.store import acme_orders as store
from acmeca.store.database import Database

log = logging.getLogger(__name__)
VALIDATE_JOB = "validate"
T = TypeVar("T")


class Verdict(Protocol):
    """What a validator returns (acmeca.validation.dispatch.ValidationResult has this shape)."""

    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> CAError | None: ...

    @property
    def record(self) -> Mapping[str, Any]:
        """A JSON object: ``validationRecord`` and whatever else the validator saw (stored with the verdict)."""
        ...


Validator = Callable[[ChallengeType, Identifier, str, str, ValidationSettings], Awaitable[Verdict]]


class CAAChecker(Protocol):
    """acmeca.validation.caa.check_caa's signature: a verdict for one identifier, never a write."""

    def __call__(
        self, identifier: Identifier, *, caa_identities: Sequence[str], account_uri: str | None,
        method: ChallengeType | None, settings: ValidationSettings,
    ) -> Awaitable[Verdict]: ...


@dataclass(frozen=True)
class ValidationContext:
    """The validators, and the running top-level settings that each provisioner's overrides apply to.

    ``top_level`` is read at every validation, so a SIGHUP that changes ca.json's ``validation`` is seen by
    the next challenge without a restart.
    """

    validate: Validator
    top_level: Callable[[], ValidationSettings]
    check_caa: CAAChecker | None = None  # consulted when the provisioner lists caaIdentities

    def settings_for(self, provisioner: AcmeProvisioner) -> ValidationSettings:
        return provisioner.validation.over(self.top_level())


def key_authorization(token: str, account: AccountRecord) -> str:
    """RFC 8555 §8.1: token "." base64url(SHA-256 JWK thumbprint)."""
    return f"{token}.{account.key_thumbprint}"


class ChallengeService:
    def __init__(
        self, db: Database, clock: Clock, provisioners: AcmeProvisioners, validation: ValidationContext,
        *, worker: JobWorker | None = None, limiter: RateLimiter | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._provisioners = provisioners
        self._validation = validation
        self._worker = worker
        self._limiter = limiter

    async def challenge(self, account: AccountRecord, challenge_id: str) -> tuple[ChallengeRecord, AuthorizationRecord]:
        async with self._db.read() as tx:
            found = await store.challenge_with_authz(tx, challenge_id)
        if found is None or found[1].account_id != account.id:
            raise NotFound("no such challenge")
        return found

    async def respond(
        self, account: AccountRecord, challenge_id: str, *, account_uri: str | None = None
    ) -> tuple[ChallengeRecord, AuthorizationRecord]:
        """The client says it is ready: schedule exactly one validation (§7.5.1) and wait briefly for it.

        ``account_uri`` is kept in the job for CAA's ``accounturi`` (the worker has no request to build it from).
        """
        challenge, authz = await self.challenge(account, challenge_id)
        if authz.status is AuthorizationStatus.VALID or challenge.status is ChallengeStatus.PROCESSING:
            return challenge, authz
        if challenge.status is not ChallengeStatus.PENDING or authz.status is not AuthorizationStatus.PENDING:
            raise Malformed(f"the challenge is {challenge.status.value} and cannot be retried")
        if authz.expires_at <= self._clock.now():
            raise Malformed("the authorization has expired")
        provisioner = await self._provisioners.by_id(authz.provisioner_id)
        if self._limiter is not None:
            await self._limiter.check(
                provisioner.rate_limits.failed_validations_per_account_per_identifier,
                failed_validation_key(account.id, authz.identifier),
            )
        key_auth = key_authorization(challenge.token, account)
        started, job = await self._start(challenge, key_auth, account_uri)
        if not started:  # another request got there first: show what it left
            return await self.challenge(account, challenge_id)
        processing = replace(challenge, status=ChallengeStatus.PROCESSING, key_authorization=key_auth)
        if job is not None and self._worker is not None:
            # The job row is committed before the attempt begins, so a crash mid-validation loses nothing.
            # The attempt starts from the challenge and authorization just read and moved, not a second read.
            attempt = self._worker.adopt(job, lambda adopted: self._validate(adopted, processing, authz))
            if await settled_within(attempt, self._validation.settings_for(provisioner).settle_within):
                settled = None if attempt.cancelled() else attempt.result()
                return settled if settled is not None else await self.challenge(account, challenge_id)
        return processing, authz

    async def _start(
        self, challenge: ChallengeRecord, key_auth: str, account_uri: str | None
    ) -> tuple[bool, JobRecord | None]:
        """pending→processing and the ``validate`` job in one transaction; the job is leased to this process."""
        now = self._clock.now()
        worker = self._worker
        job = jobs.NewJob(
            VALIDATE_JOB, challenge.id, {"accountUri": account_uri}, now, owner=worker.owner if worker else None,
            lease_expires_at=now + worker.lease if worker else None,
        )
        async with self._db.write_one() as tx:  # one statement on PostgreSQL (acme_moves.start_validation)
            started, written = await acme_moves.start_validation(tx, challenge.id, key_auth, job)
        return started, written if worker else None

    async def retry_after(self, challenge: ChallengeRecord, authz: AuthorizationRecord) -> int:
        """Seconds a client should wait before asking again about a challenge in ``processing``.

        Measured from when its job was written, against the validation ``timeout`` that bounds it.
        """
        async with self._db.read() as tx:
            job = await jobs.by_subject(tx, VALIDATE_JOB, challenge.id)
        if job is None:  # settled since it was read
            return MIN_RETRY_AFTER
        settings = self._validation.settings_for(await self._provisioners.by_id(authz.provisioner_id))
        return retry_after(job.run_at, settings.timeout, self._clock.now())

    async def run(self, job: JobRecord) -> None:
        """Worker entry point for one ``validate`` job."""
        async with self._db.read() as tx:
            found = await store.challenge_with_authz(tx, job.subject_id)
        if found is None or found[0].status is not ChallengeStatus.PROCESSING:
            await self._finish(job)
            return
        await self._validate(job, *found)

    async def _validate(
        self, job: JobRecord, challenge: ChallengeRecord, authz: AuthorizationRecord
    ) -> tuple[ChallengeRecord, AuthorizationRecord] | None:
        """Validate a challenge in ``processing`` and settle it; what ``settle`` returns."""
        provisioner = await self._provisioners.by_id(authz.provisioner_id)
        started = time.perf_counter()
        try:
            settings = self._validation.settings_for(provisioner)
            verdict = await self._validation.validate(
                challenge.type, authz.identifier, challenge.token, challenge.key_authorization or "", settings
            )
            error, record = (None if verdict.ok else verdict.error or CAError("validation failed")), verdict.record
            if error is None:
                error = await self._caa_refusal(provisioner, authz, challenge.type, job, settings)
        except CAError as exc:
            error, record = exc, None
        kind = challenge.type.value
        metrics.VALIDATION_DURATION.labels(kind).observe(time.perf_counter() - started)
        metrics.VALIDATIONS.labels(kind, "invalid" if error else "valid").inc()
        return await self.settle(job, challenge, authz, error=error, record=record)

    async def _caa_refusal(
        self, provisioner: AcmeProvisioner, authz: AuthorizationRecord, method: ChallengeType, job: JobRecord,
        settings: ValidationSettings,
    ) -> CAError | None:
        """RFC 8659/8657 at validation time, only when the provisioner names its CAA identities."""
        checker = self._validation.check_caa
        if not provisioner.caa_identities or checker is None:
            return None
        account_uri = job.payload.get("accountUri") if isinstance(job.payload, dict) else None
        verdict = await checker(
            authz_identifier(authz), caa_identities=provisioner.caa_identities,
            account_uri=account_uri if isinstance(account_uri, str) else None, method=method, settings=settings,
        )
        return None if verdict.ok else verdict.error or CAAProblem("CAA forbids issuance")

    async def abandon(self, job: JobRecord) -> None:
        """A job that kept crashing its worker: record the failure instead of leaving it processing."""
        async with self._db.read() as tx:
            found = await store.challenge_with_authz(tx, job.subject_id)
        if found is None:
            await self._finish(job)
            return
        await self.settle(job, *found, error=CAError("validation could not be completed"), record=None)

    async def settle(
        self, job: JobRecord, challenge: ChallengeRecord, authz: AuthorizationRecord, *,
        error: CAError | None, record: Any,
    ) -> tuple[ChallengeRecord, AuthorizationRecord] | None:
        """Persist a verdict and roll it up to the authorization and its pending orders, atomically.

        Returns the challenge and the authorization as this call left them, so a request waiting for the
        verdict needs no read to show it; None when the verdict was not applied as given (another attempt
        settled the challenge first, or the authorization had left ``pending``): the caller reads instead.
        Other challenges of the authorization are as the caller read them.
        """
        now = self._clock.now()
        records = _records(record)
        # Looked up before the write transaction: nothing may wait on another connection while holding the
        # SQLite write lock, or a full pool of writers queued behind it deadlocks until the busy timeout.
        provisioner = await self._provisioners.by_id(authz.provisioner_id)
        valid_for = provisioner.lifetimes.valid_authz
        stored = None if error is None else summary_json(ErrorSummary.of(error))
        status = ChallengeStatus.VALID if error is None else ChallengeStatus.INVALID
        order_error = None
        if error is not None:
            order_error = summary_json(ErrorSummary.of(CAError(
                f"authorization for {authz.identifier.value} failed",
                subproblems=[Subproblem(error=error, identifier=authz.identifier)],
            )))
        async with self._db.write_one() as tx:  # one statement on PostgreSQL (acme_moves.settle_validation)
            settled, moved = await acme_moves.settle_validation(
                tx, challenge_id=challenge.id, authz_id=authz.id, now=now, record=records, error=stored,
                order_error=order_error, valid_until=now + valid_for, job_id=job.id, job_owner=job.lease_owner or "",
            )
        if settled and error is not None:  # after the write: the limiter uses its own connections
            await self._count_failure(provisioner, authz)
        if not moved:
            return None
        shown = replace(
            challenge, status=status, validated_at=now if error is None else None, error=_as_stored(stored),
            validation_record=_as_stored(records),
        )
        challenges = tuple(shown if c.id == shown.id else c for c in authz.challenges)
        if error is None:
            return shown, replace(
                authz, status=AuthorizationStatus.VALID, validated_at=now, expires_at=now + valid_for,
                challenges=challenges,
            )
        return shown, replace(authz, status=AuthorizationStatus.INVALID, challenges=challenges)

    async def _count_failure(self, provisioner: AcmeProvisioner, authz: AuthorizationRecord) -> None:
        """Spend from failedValidationsPerAccountPerIdentifier; a full bucket stays full (nothing to refuse)."""
        if self._limiter is None:
            return
        with contextlib.suppress(RateLimited):
            await self._limiter.spend(
                provisioner.rate_limits.failed_validations_per_account_per_identifier,
                failed_validation_key(authz.account_id, authz.identifier), refusal=False,
            )

    async def _finish(self, job: JobRecord) -> None:
        async with self._db.write() as tx:
            await jobs.finish(tx, job.id, owner=job.lease_owner or "")


def authz_identifier(authz: AuthorizationRecord) -> Identifier:
    """The name CAA is asked about: a wildcard authorization is for ``*.base`` (``issuewild`` governs it)."""
    if authz.wildcard:
        return Identifier(authz.identifier.type, f"*.{authz.identifier.value}")
    return authz.identifier


def _as_stored(value: T | None) -> T | None:
    """``value`` as a JSON column gives it back (tuples become lists, keys strings): what a re-read would show."""
    return None if value is None else json.loads(json.dumps(value))


def _records(record: Any) -> list[dict[str, Any]] | None:
    if record is None:
        return None
    if isinstance(record, dict):
        hops = record.get("validationRecord")
        if isinstance(hops, list):
            return [r for r in hops if isinstance(r, dict)] or None
        return [record] if record else None
    if isinstance(record, list):
        return [r for r in record if isinstance(r, dict)] or None
    return None
