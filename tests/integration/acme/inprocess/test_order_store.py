"""The store's one-statement reads and roll-ups, on SQLite and PostgreSQL.

``order_with_statuses`` and ``challenge_with_authz`` join what used to be two or three reads; the roll-ups
move every pending order of an authorization in one UPDATE, and leave alone any order not pending; ``enqueue``
hands back the job as a read of its row would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from acmeca.domain.acme import AccountRecord, AuthorizationRecord, ChallengeRecord, OrderRecord
from acmeca.domain.identifiers import Identifier, IdentifierType
from acmeca.domain.status import AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, OrderStatus
from acmeca.store import acme_accounts, acme_moves, jobs
from acmeca.store import acme_orders as store
from acmeca.store.database import Database

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ERROR = {"kind": "unauthorized", "detail": "an authorization failed", "subproblems": []}


def _authz(authz_id: str) -> AuthorizationRecord:
    return AuthorizationRecord(
        id=authz_id, account_id="acct", provisioner_id="prov",
        identifier=Identifier(IdentifierType.DNS, f"{authz_id}.test"), wildcard=False,
        status=AuthorizationStatus.PENDING, expires_at=NOW + timedelta(days=1), created_at=NOW,
        challenges=tuple(
            ChallengeRecord(id=f"{authz_id}-{kind.value}", authz_id=authz_id, type=kind,
                            token=f"t-{authz_id}-{kind.value}", status=ChallengeStatus.PENDING)
            for kind in (ChallengeType.DNS_01, ChallengeType.HTTP_01)  # as read: by type
        ),
    )


def _order(order_id: str, status: OrderStatus, authz_ids: tuple[str, ...]) -> OrderRecord:
    return OrderRecord(
        id=order_id, account_id="acct", provisioner_id="prov", status=status,
        identifiers=tuple(Identifier(IdentifierType.DNS, f"{a}.test") for a in authz_ids), profile="default",
        expires_at=NOW + timedelta(days=1), created_at=NOW, updated_at=NOW, authz_ids=authz_ids,
    )


async def _setup(database: Database, orders: list[OrderRecord], authz_ids: list[str]) -> None:
    async with database.write() as tx:
        for authz_id in authz_ids:
            await store.insert_authz(tx, _authz(authz_id))
        for order in orders:
            assert await store.insert_order(tx, order)


async def _validate(database: Database, authz_id: str, status: AuthorizationStatus) -> None:
    async with database.write() as tx:
        assert await store.move_authz(tx, authz_id, expected=[AuthorizationStatus.PENDING], status=status)


async def _status(database: Database, order_id: str) -> OrderStatus:
    async with database.read() as tx:
        order = await store.order_by_id(tx, order_id)
    assert order is not None
    return order.status


async def test_an_order_is_ready_only_once_every_authorization_is_valid(database: Database) -> None:
    orders = [_order("o1", OrderStatus.PENDING, ("z2", "z1")), _order("gone", OrderStatus.INVALID, ("z1",))]
    await _setup(database, orders, ["z1", "z2"])
    await _validate(database, "z1", AuthorizationStatus.VALID)
    async with database.write() as tx:
        assert await store.ready_orders_of_authz(tx, "z1", NOW) == 0
    await _validate(database, "z2", AuthorizationStatus.VALID)
    async with database.write() as tx:
        assert await store.ready_orders_of_authz(tx, "z2", NOW) == 1
    assert await _status(database, "o1") is OrderStatus.READY
    assert await _status(database, "gone") is OrderStatus.INVALID, "only pending orders move"
    async with database.read() as tx:
        found = await store.order_with_statuses(tx, "o1")
    assert found is not None
    assert (found[0].authz_ids, found[1]) == (("z2", "z1"), [AuthorizationStatus.VALID] * 2)


async def test_a_failed_authorization_invalidates_its_pending_orders_only(database: Database) -> None:
    await _setup(database, [_order("o1", OrderStatus.PENDING, ("z1",)), _order("o2", OrderStatus.PENDING, ("z1", "z2")),
                            _order("r", OrderStatus.READY, ("z1",)), _order("other", OrderStatus.PENDING, ("z2",))],
                 ["z1", "z2"])
    await _validate(database, "z1", AuthorizationStatus.INVALID)
    async with database.write() as tx:
        assert await store.fail_orders_of_authz(tx, "z1", NOW, ERROR) == 2
    async with database.read() as tx:
        o1 = await store.order_by_id(tx, "o1")
    assert o1 is not None
    assert (o1.status, o1.error) == (OrderStatus.INVALID, ERROR)
    assert await _status(database, "o2") is OrderStatus.INVALID
    assert await _status(database, "r") is OrderStatus.READY
    assert await _status(database, "other") is OrderStatus.PENDING


async def test_a_challenge_comes_with_its_whole_authorization(database: Database) -> None:
    await _setup(database, [], ["z1", "z2"])
    async with database.read() as tx:
        found = await store.challenge_with_authz(tx, "z1-http-01")
        by_id = await store.authz_by_id(tx, "z1")
        assert await store.challenge_with_authz(tx, "nope") is None
        assert await store.authz_by_id(tx, "nope") is None
    assert found is not None
    challenge, authz = found
    assert challenge == _authz("z1").challenges[1]
    assert authz == by_id == _authz("z1")


async def test_enqueue_returns_the_job_as_stored_and_none_when_one_exists(database: Database) -> None:
    async with database.write() as tx:
        job = await jobs.enqueue(tx, kind="validate", subject_id="c1", payload={"accountUri": "https://a/1"}, now=NOW,
                                 owner="me:1", lease_expires_at=NOW + timedelta(seconds=60))
        assert await jobs.enqueue(tx, kind="validate", subject_id="c1", payload={}, now=NOW) is None
    async with database.read() as tx:
        stored = await jobs.by_subject(tx, "validate", "c1")
    assert job is not None
    assert job == stored


async def _processing(database: Database, challenge_id: str, owner: str = "me:1") -> int:
    async with database.write() as tx:
        assert await store.start_challenge(tx, challenge_id, "key-authorization")
        job = await jobs.enqueue(tx, kind="validate", subject_id=challenge_id, payload={}, now=NOW, owner=owner)
    assert job is not None
    return job.id


async def _settle(database: Database, authz_id: str, job_id: int, *, error: dict[str, object] | None = None,
                  owner: str = "me:1") -> tuple[bool, bool]:  # fmt: skip
    async with database.write_one() as tx:
        return await acme_moves.settle_validation(
            tx, challenge_id=f"{authz_id}-http-01", authz_id=authz_id, now=NOW, record=[{"hostname": "h"}],
            error=error, order_error=None if error is None else ERROR, valid_until=NOW + timedelta(days=30),
            job_id=job_id, job_owner=owner,
        )


async def test_a_verdict_settles_the_challenge_authorization_orders_and_job_together(database: Database) -> None:
    await _setup(database, [_order("o1", OrderStatus.PENDING, ("z1", "z2"))], ["z1", "z2"])
    first = await _processing(database, "z1-http-01")
    assert await _settle(database, "z1", first) == (True, True)
    assert await _status(database, "o1") is OrderStatus.PENDING, "z2 is still pending"
    second = await _processing(database, "z2-http-01")
    assert await _settle(database, "z2", second) == (True, True)
    assert await _status(database, "o1") is OrderStatus.READY
    async with database.read() as tx:
        challenge, authz = await store.challenge_with_authz(tx, "z2-http-01") or (None, None)
        assert await jobs.by_subject(tx, "validate", "z2-http-01") is None
    assert challenge is not None
    assert authz is not None
    assert (challenge.status, challenge.validated_at, challenge.validation_record) == (
        ChallengeStatus.VALID, NOW, [{"hostname": "h"}])
    assert (authz.status, authz.validated_at, authz.expires_at) == (
        AuthorizationStatus.VALID, NOW, NOW + timedelta(days=30))
    assert await _settle(database, "z2", second) == (False, False), "a verdict applies once"


async def test_a_failed_verdict_invalidates_the_authorization_and_its_pending_orders(database: Database) -> None:
    await _setup(database, [_order("o1", OrderStatus.PENDING, ("z1",)), _order("r", OrderStatus.READY, ("z1",))],
                 ["z1"])  # fmt: skip
    job_id = await _processing(database, "z1-http-01")
    challenge_error = {"kind": "incorrectResponse", "detail": "no", "subproblems": []}
    assert await _settle(database, "z1", job_id, error=challenge_error, owner="someone-else:1") == (True, True)
    async with database.read() as tx:
        challenge, authz = await store.challenge_with_authz(tx, "z1-http-01") or (None, None)
        o1 = await store.order_by_id(tx, "o1")
        kept = await jobs.by_subject(tx, "validate", "z1-http-01")
    assert challenge is not None
    assert authz is not None
    assert o1 is not None
    assert (challenge.status, challenge.error, authz.status) == (
        ChallengeStatus.INVALID, challenge_error, AuthorizationStatus.INVALID)
    assert (o1.status, o1.error) == (OrderStatus.INVALID, ERROR)
    assert await _status(database, "r") is OrderStatus.READY
    assert kept is not None, "the job is deleted only by the owner of its lease"


async def test_an_issuance_outcome_settles_the_order_once_and_drops_its_job(database: Database) -> None:
    await _setup(database, [_order("o1", OrderStatus.PROCESSING, ("z1",))], ["z1"])
    async with database.write() as tx:
        assert await jobs.enqueue(tx, kind="finalize", subject_id="o1", payload={}, now=NOW, owner="me:1")
    async with database.write_one() as tx:
        assert await acme_moves.settle_order(tx, "o1", status=OrderStatus.VALID, now=NOW, job_kind="finalize",
                                        certificate_serial="1234")  # fmt: skip
    async with database.read() as tx:
        o1 = await store.order_by_id(tx, "o1")
        assert await jobs.by_subject(tx, "finalize", "o1") is None
    assert o1 is not None
    assert (o1.status, o1.certificate_serial, o1.error) == (OrderStatus.VALID, "1234", None)
    async with database.write_one() as tx:
        assert not await acme_moves.settle_order(tx, "o1", status=OrderStatus.INVALID, now=NOW, job_kind="finalize",
                                            error=ERROR)  # fmt: skip
    assert await _status(database, "o1") is OrderStatus.VALID


async def test_a_validation_starts_once_with_its_leased_job(database: Database) -> None:
    await _setup(database, [], ["z1"])
    job = jobs.NewJob("validate", "z1-http-01", {"accountUri": None}, NOW, owner="me:1",
                      lease_expires_at=NOW + timedelta(seconds=60))  # fmt: skip
    async with database.write_one() as tx:
        started, written = await acme_moves.start_validation(tx, "z1-http-01", "token.thumbprint", job)
    async with database.write_one() as tx:
        assert await acme_moves.start_validation(tx, "z1-http-01", "other", job) == (False, None)
    async with database.read() as tx:
        stored = await jobs.by_subject(tx, "validate", "z1-http-01")
        challenge = await store.challenge_by_id(tx, "z1-http-01")
    assert started
    assert written is not None
    assert written == stored
    assert challenge is not None
    assert (challenge.status, challenge.key_authorization) == (ChallengeStatus.PROCESSING, "token.thumbprint")


async def test_a_finalize_starts_once_and_never_for_an_account_key(database: Database) -> None:
    await _setup(database, [_order("o1", OrderStatus.READY, ("z1",))], ["z1"])
    async with database.write() as tx:
        await acme_accounts.insert(tx, AccountRecord(
            id="acct", provisioner_id="prov", key_thumbprint="account-key", jwk={"kty": "EC"},
            status=AccountStatus.VALID, contact=(), tos_agreed=True, created_at=NOW,
        ))
    job = jobs.NewJob("finalize", "o1", {"csr": "abc"}, NOW, owner="me:1",
                      lease_expires_at=NOW + timedelta(seconds=60))  # fmt: skip
    async with database.write_one() as tx:
        assert await acme_moves.start_finalize(tx, "o1", "account-key", job) == (True, False)
    assert await _status(database, "o1") is OrderStatus.READY
    async with database.read() as tx:
        assert await jobs.by_subject(tx, "finalize", "o1") is None, "nothing is written for an account key"
    async with database.write_one() as tx:
        assert await acme_moves.start_finalize(tx, "o1", "csr-key", job) == (False, True)
    async with database.write_one() as tx:
        assert await acme_moves.start_finalize(tx, "o1", "csr-key", job) == (False, False)
    assert await _status(database, "o1") is OrderStatus.PROCESSING
    async with database.read() as tx:
        stored = await jobs.by_subject(tx, "finalize", "o1")
    assert stored is not None
    assert stored == job.written(stored.id)
