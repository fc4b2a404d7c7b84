"""Orders and authorizations (RFC 8555 §7.1.3, §7.1.4, §7.4, §7.5.2).

Statuses are rolled up eagerly on every read (a pending order whose authorizations are all valid reads as
``ready``; an expired one as ``invalid``) and the change is written back with a conditional UPDATE, so
every replica computes the same answer and clients that poll never see a stale state.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from acmeca.acme.service.accounts import summary_json
from acmeca.acme.service.profiles import DEFAULT_PROFILE
from acmeca.acme.service.provisioner import AcmeProvisioner
from acmeca.acme.service.ratelimits import RateLimiter
from acmeca.acme.service.renewals import RenewalService
from acmeca.domain.acme import AccountRecord, AuthorizationRecord, ChallengeRecord, OrderRecord
from acmeca.domain.clock import Clock
from acmeca.domain.errors import (
    AlreadyReplaced,
    CAError,
    ErrorSummary,
    Forbidden,
    InvalidProfile,
    Malformed,
    NotFound,
    RejectedIdentifier,
    Subproblem,
    Unauthorized,
)
from acmeca.domain.identifiers import Identifier, IdentifierType, parse_identifier
from acmeca.domain.status import AuthorizationStatus, ChallengeStatus, ChallengeType, OrderStatus
from acmeca.engine.name_policy import StoredNamePolicy
from acmeca.engine.requests import Validity
from acmeca.engine.validity import requested_time, resolve_validity
from acmeca.store import acme_orders as store
from acmeca.store.database import Database
from acmeca.store.transaction import Transaction

MAX_IDENTIFIERS = 100
DEAD_AUTHZ = (
    AuthorizationStatus.INVALID, AuthorizationStatus.DEACTIVATED, AuthorizationStatus.EXPIRED,
    AuthorizationStatus.REVOKED,
)
_IP_CHALLENGES = (ChallengeType.HTTP_01, ChallengeType.TLS_ALPN_01)


def offered_challenges(provisioner: AcmeProvisioner, identifier: Identifier) -> tuple[ChallengeType, ...]:
    """Wildcards only through dns-01 (BR 3.2.2.4); IP addresses never through dns-01 (RFC 8738 §7)."""
    if identifier.is_wildcard:
        return tuple(c for c in provisioner.challenges if c is ChallengeType.DNS_01)
    if identifier.type is IdentifierType.IP:
        return tuple(c for c in provisioner.challenges if c in _IP_CHALLENGES)
    return provisioner.challenges


def parse_order_identifiers(provisioner: AcmeProvisioner, raw: object) -> tuple[Identifier, ...]:
    """Canonical, de-duplicated identifiers; every bad one is reported as a subproblem."""
    if not isinstance(raw, list) or not raw:
        raise Malformed("identifiers must be a non-empty array")
    if len(raw) > MAX_IDENTIFIERS:
        raise RejectedIdentifier(f"an order may hold at most {MAX_IDENTIFIERS} identifiers")
    parsed: list[Identifier] = []
    problems: list[Subproblem] = []
    for item in raw:
        if not isinstance(item, dict):
            raise Malformed("each identifier must be an object with type and value")
        try:
            identifier = parse_identifier(item.get("type"), item.get("value"))  # type: ignore[arg-type]
            if not offered_challenges(provisioner, identifier):
                raise RejectedIdentifier(f"no challenge this provisioner offers can validate {identifier.value}")
        except CAError as exc:
            value = item.get("value")
            kind = item.get("type")
            shown = Identifier(IdentifierType(kind), str(value)) if kind in ("dns", "ip") else None
            problems.append(Subproblem(error=exc, identifier=shown))
            continue
        if identifier not in parsed:
            parsed.append(identifier)
    if problems:
        first = problems[0].error
        detail = "; ".join(p.error.detail for p in problems)
        raise type(first)(f"cannot issue for these identifiers: {detail}", subproblems=problems)
    return tuple(parsed)


def select_profile(provisioner: AcmeProvisioner, requested: object) -> str:
    """The order's profile name: absent means ``default``; anything not offered is invalidProfile."""
    if requested is None:
        return DEFAULT_PROFILE
    if not isinstance(requested, str) or requested not in provisioner.profiles:
        offered = ", ".join(sorted(provisioner.profiles))
        raise InvalidProfile(f"profile {requested!r} is not offered (offered: {offered})")
    return requested


def failed_validation_key(account_id: str, identifier: Identifier) -> str:
    """The failedValidationsPerAccountPerIdentifier bucket: a wildcard counts against its base name."""
    base = identifier.base
    return f"{account_id}:{base.type.value}:{base.value}"


def _time(value: object, name: str) -> datetime | None:
    """newOrder's notBefore/notAfter (RFC 3339), in UTC; absent or Go's zero time is unset.

    step sends ``"0001-01-01T00:00:00Z"`` for both whenever a flag is not given, and step-ca reads Go's zero
    time as unset. A time UTC cannot hold is ``malformed``, naming the field.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(f"{name} must be an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Malformed(f"{name} {value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise Malformed(f"{name} must carry a time zone")
    return requested_time(parsed, name)


class OrderService:
    def __init__(
        self, db: Database, clock: Clock, name_policy: StoredNamePolicy, *, renewals: RenewalService | None = None,
        limiter: RateLimiter | None = None, backdate: timedelta = timedelta(minutes=1),
    ) -> None:
        self._db = db
        self._backdate = backdate
        self._clock = clock
        self._name_policy = name_policy  # the engine's too: checked at newOrder so a refused name fails early
        self._renewals = renewals
        self._limiter = limiter

    async def new_order(
        self, provisioner: AcmeProvisioner, account: AccountRecord, payload: dict[str, Any]
    ) -> OrderRecord:
        identifiers = parse_order_identifiers(provisioner, payload.get("identifiers"))
        await self._name_policy.check_identifiers(
            identifiers, provisioner_id=provisioner.id, eab_key_id=account.eab_key_id
        )
        not_before = _time(payload.get("notBefore"), "notBefore")
        not_after = _time(payload.get("notAfter"), "notAfter")
        now = self._clock.now()
        if not_before is not None or not_after is not None:
            not_before = self._requested_start(provisioner, not_before, not_after, now)
        profile = select_profile(provisioner, payload.get("profile"))
        replaces = payload.get("replaces")
        renewing = await self._renewals.check_replaces(account, identifiers, replaces) if self._renewals else None
        await self._rate_limit(provisioner, account, identifiers, renewal=renewing is not None)
        lifetimes = provisioner.lifetimes
        authz_ids: list[str] = []
        all_reused = True
        async with self._db.write() as tx:
            for identifier in identifiers:
                base = identifier.base
                reused = await store.reusable_authz(
                    tx, account_id=account.id, provisioner_id=provisioner.id, identifier=base,
                    wildcard=identifier.is_wildcard, valid_after=now + lifetimes.order,
                )
                if reused is None:
                    all_reused = False
                    reused = await self._create_authz(tx, provisioner, account, identifier, now)
                authz_ids.append(reused)
            order = OrderRecord(
                id=secrets.token_urlsafe(16), account_id=account.id, provisioner_id=provisioner.id,
                status=OrderStatus.READY if all_reused else OrderStatus.PENDING, identifiers=identifiers,
                profile=profile, replaces=replaces if renewing is not None else None,
                expires_at=now + lifetimes.order, created_at=now, updated_at=now, authz_ids=tuple(authz_ids),
                not_before=not_before, not_after=not_after,
            )
            if not await store.insert_order(tx, order):  # lost a race on ``replaces``: the authzs roll back too
                raise AlreadyReplaced(f"certificate {replaces} has already been replaced by another order")
        return order  # every reused authorization is valid and every new one pending: the status is exact

    def _requested_start(
        self, provisioner: AcmeProvisioner, not_before: datetime | None, not_after: datetime | None, now: datetime,
    ) -> datetime:
        """Check a requested window against the claims now, and fix its start as step-ca does.

        Without a requested notBefore the order's starts at now − backdate, so the certificate's duration is
        the one checked here however long validation takes, and a notAfter the client computed a moment
        before sending (``step ca certificate --not-after 5m``) still meets a 5m minimum.
        """
        try:
            resolved = resolve_validity(
                Validity(not_before, not_after), provisioner.claims, now=now, backdate=self._backdate
            )
        except Forbidden as exc:  # a duration outside the claims is a bad request, not a bad name
            raise Malformed(exc.detail) from None
        return resolved.not_before

    async def _rate_limit(
        self, provisioner: AcmeProvisioner, account: AccountRecord, identifiers: Sequence[Identifier], *,
        renewal: bool,
    ) -> None:
        """Checks first, so a refused order spends nothing; an ARI renewal replaces a certificate rather than
        adding one, so it does not count against newOrdersPerAccount."""
        if self._limiter is None:
            return
        limits = provisioner.rate_limits
        for identifier in identifiers:
            await self._limiter.check(
                limits.failed_validations_per_account_per_identifier, failed_validation_key(account.id, identifier)
            )
        if not renewal:
            await self._limiter.spend(limits.new_orders_per_account, account.id)

    async def _create_authz(
        self, tx: Transaction, provisioner: AcmeProvisioner, account: AccountRecord, identifier: Identifier,
        now: datetime,
    ) -> str:
        authz_id = secrets.token_urlsafe(16)
        challenges = tuple(
            ChallengeRecord(
                id=secrets.token_urlsafe(16), authz_id=authz_id, type=kind, token=secrets.token_urlsafe(32),
                status=ChallengeStatus.PENDING,
            )
            for kind in offered_challenges(provisioner, identifier)
        )
        await store.insert_authz(
            tx,
            AuthorizationRecord(
                id=authz_id, account_id=account.id, provisioner_id=provisioner.id, identifier=identifier.base,
                wildcard=identifier.is_wildcard, status=AuthorizationStatus.PENDING,
                expires_at=now + provisioner.lifetimes.pending_authz, created_at=now, challenges=challenges,
            ),
        )
        return authz_id

    async def order(self, account: AccountRecord, order_id: str) -> OrderRecord:
        """The order, owned by ``account``, with its status rolled up as of now."""
        async with self._db.read() as tx:
            found = await store.order_with_statuses(tx, order_id)
        if found is None or found[0].account_id != account.id:
            raise NotFound("no such order")
        return await self._rolled_up(*found)

    async def _rolled_up(self, order: OrderRecord, statuses: Sequence[AuthorizationStatus]) -> OrderRecord:
        now = self._clock.now()
        target: OrderStatus | None = None
        error: CAError | None = None
        if order.status in (OrderStatus.PENDING, OrderStatus.READY) and order.expires_at <= now:
            target, error = OrderStatus.INVALID, Unauthorized("the order expired")
        elif order.status is OrderStatus.PENDING and any(s in DEAD_AUTHZ for s in statuses):
            target, error = OrderStatus.INVALID, Unauthorized("an authorization of the order failed")
        elif order.status is OrderStatus.PENDING and statuses and all(
            s is AuthorizationStatus.VALID for s in statuses
        ):
            target = OrderStatus.READY
        if target is None:
            return order
        stored = summary_json(ErrorSummary.of(error)) if error else None
        async with self._db.write() as tx:
            moved = await store.move_order(tx, order.id, expected=[order.status], status=target, now=now, error=stored)
            fresh = None if moved else await store.order_by_id(tx, order.id)  # moved: we know what it holds now
        if moved:
            return replace(order, status=target, updated_at=now, error=stored if stored is not None else order.error)
        return fresh or order

    async def order_page(self, account: AccountRecord, cursor: int, page_size: int) -> tuple[list[str], int | None]:
        """Ids of the account's orders (invalid ones left out, §7.1.2.1) and the next cursor, if any."""
        async with self._db.read() as tx:
            ids = await store.order_page(
                tx, account.id, exclude=[OrderStatus.INVALID], offset=cursor, limit=page_size
            )
        if len(ids) > page_size:
            return ids[:page_size], cursor + page_size
        return ids, None

    async def authorization(self, account: AccountRecord, authz_id: str) -> AuthorizationRecord:
        async with self._db.read() as tx:
            authz = await store.authz_by_id(tx, authz_id)
        if authz is None or authz.account_id != account.id:
            raise NotFound("no such authorization")
        live = authz.status in (AuthorizationStatus.PENDING, AuthorizationStatus.VALID)
        if live and authz.expires_at <= self._clock.now():
            async with self._db.write() as tx:
                await store.move_authz(tx, authz.id, expected=[authz.status], status=AuthorizationStatus.EXPIRED)
            return replace(authz, status=AuthorizationStatus.EXPIRED)
        return authz

    async def deactivate_authorization(self, account: AccountRecord, authz_id: str) -> AuthorizationRecord:
        """Client deactivation (§7.5.2): only pending or valid ones; orders holding it become invalid."""
        authz = await self.authorization(account, authz_id)
        now = self._clock.now()
        gone = Unauthorized(f"authorization for {authz.identifier.value} was deactivated")
        error = summary_json(ErrorSummary.of(gone))
        async with self._db.write() as tx:
            moved = await store.move_authz(
                tx, authz.id, expected=[AuthorizationStatus.PENDING, AuthorizationStatus.VALID],
                status=AuthorizationStatus.DEACTIVATED,
            )
            if not moved:
                raise Malformed(f"an authorization that is {authz.status.value} cannot be deactivated")
            for order_id in await store.order_ids_for_authz(
                tx, authz.id, [OrderStatus.PENDING, OrderStatus.READY]
            ):
                await store.move_order(
                    tx, order_id, expected=[OrderStatus.PENDING, OrderStatus.READY], status=OrderStatus.INVALID,
                    now=now, error=error,
                )
        return replace(authz, status=AuthorizationStatus.DEACTIVATED)

    async def valid_identifiers(self, account: AccountRecord) -> set[Identifier]:
        async with self._db.read() as tx:
            return await store.valid_identifiers(tx, account.id, self._clock.now())
