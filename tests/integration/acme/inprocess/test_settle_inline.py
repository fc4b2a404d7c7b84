"""Challenge and finalize POSTs answer with the outcome when it comes within ``validation.settleWithin``.

Slower work answers ``processing`` with a Retry-After that follows its progress and finishes in the
background; the job row is durable before the attempt starts, and when a worker takes over an attempt whose
lease ran out, only the first result is applied. The validator (``StubValidation.hold``) and the engine
(``_gate_issuance``) are held open by events, never by sleeping, and the clock is shifted instead of waited.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from acmeca.config import ValidationSettings
from acmeca.domain.errors import IncorrectResponse, ServiceUnavailable
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.requests import IssuanceRequest
from acmeca.server.graph import GraphOptions
from acmeca.store import jobs
from acmeca.store.schema import jobs as jobs_table
from tests.integration.acme.inprocess.conftest import AcmeEnv, OptionsFactory, StubValidation
from tests.support.acme_client import AcmeClient, make_csr

WAIT = ValidationSettings(settle_within=timedelta(seconds=30))  # the request waits for the outcome
AT_ONCE = ValidationSettings(settle_within=timedelta(0))  # the request answers before the attempt runs


class ShiftedClock:
    """The system clock moved by ``offset``: a test stands later in a validation without waiting for it."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def acme_options(clock: ShiftedClock) -> OptionsFactory:
    def options(stub: StubValidation) -> GraphOptions:
        return GraphOptions(validation=stub.context(), poll_interval=0.05, server_tls=False, cpu_workers=2,
                            clock=clock)

    return options


async def _pending(client: AcmeClient, name: str) -> tuple[str, str, dict[str, Any]]:
    """A new order for ``name``: its URL, its authorization's URL and the authorization's first challenge."""
    reply = await client.new_order([{"type": "dns", "value": name}])
    authz_url = reply.json()["authorizations"][0]
    challenge = (await client.get(authz_url)).json()["challenges"][0]
    return reply.headers["Location"], authz_url, challenge


async def _job(env: AcmeEnv, kind: str, subject_id: str) -> jobs.JobRecord | None:
    async with env.database.read() as tx:
        return await jobs.by_subject(tx, kind, subject_id)


async def _expire_lease(env: AcmeEnv, kind: str) -> None:
    """What a process that died mid-attempt leaves: a job whose lease has run out."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with env.database.write() as tx:
        await tx.execute(jobs_table.update().where(jobs_table.c.kind == kind)
                         .values(lease_owner="dead:1", lease_expires_at=past))


def _gate_issuance(monkeypatch: pytest.MonkeyPatch, engine: IssuingEngine) -> tuple[asyncio.Event, asyncio.Event]:
    """The next issuance waits for ``release``; ``entered`` is set once it waits. Later ones go straight on."""
    real = engine.issue
    release, entered = asyncio.Event(), asyncio.Event()

    async def issue(request: IssuanceRequest) -> Any:
        if not entered.is_set():
            entered.set()
            await release.wait()
        return await real(request)

    monkeypatch.setattr(engine, "issue", issue)
    return release, entered


async def test_a_quick_validation_is_answered_valid_with_the_authorization_and_order_moved(acme_env: AcmeEnv) -> None:
    acme_env.validation.settings = WAIT
    client = await acme_env.registered()
    order_url, authz_url, challenge = await _pending(client, "quick.test")
    reply = await client.post(challenge["url"], {})
    assert (reply.status, reply.json()["status"]) == (200, "valid")
    assert "Retry-After" not in reply.headers
    authz = await client.get(authz_url)
    assert (authz.json()["status"], authz.headers.get("Retry-After")) == ("valid", None)
    assert (await client.get(order_url)).json()["status"] == "ready"


async def test_a_quick_failure_is_answered_invalid_with_its_error(acme_env: AcmeEnv) -> None:
    acme_env.validation.settings = WAIT
    acme_env.validation.failures["wrong.test"] = IncorrectResponse("expected abc, got def")
    client = await acme_env.registered()
    order_url, authz_url, challenge = await _pending(client, "wrong.test")
    reply = (await client.post(challenge["url"], {})).json()
    assert (reply["status"], reply["error"]["type"]) == ("invalid", "urn:ietf:params:acme:error:incorrectResponse")
    assert (await client.get(authz_url)).json()["status"] == "invalid"
    assert (await client.get(order_url)).json()["status"] == "invalid"


async def test_a_slow_validation_answers_processing_and_finishes_in_the_background(
    acme_env: AcmeEnv, clock: ShiftedClock
) -> None:
    acme_env.validation.settings = AT_ONCE
    acme_env.validation.hold = release = asyncio.Event()
    client = await acme_env.registered()
    _, authz_url, challenge = await _pending(client, "slow.test")
    reply = await client.post(challenge["url"], {})
    assert (reply.json()["status"], reply.headers["Retry-After"]) == ("processing", "1")
    await acme_env.validation.held.wait()
    # 2.5 s into a 10 s validation: come back after about as long again
    clock.offset = timedelta(seconds=2.5)
    authz = await client.get(authz_url)
    assert authz.json()["status"] == "pending"
    assert authz.headers["Retry-After"] in ("3", "4")
    # 7.5 s in: no later than the validation's timeout ends (2.5 s from now)
    clock.offset = timedelta(seconds=7.5)
    assert (await client.get(challenge["url"])).headers["Retry-After"] in ("2", "3")
    release.set()
    assert (await client.poll(authz_url, until=("valid", "invalid"))).json()["status"] == "valid"
    assert len(acme_env.validation.calls) == 1


async def test_the_job_is_durable_before_the_inline_attempt_starts(acme_env: AcmeEnv) -> None:
    acme_env.validation.settings = WAIT
    acme_env.validation.hold = release = asyncio.Event()
    client = await acme_env.registered()
    _, _, challenge = await _pending(client, "durable.test")
    posted = asyncio.create_task(client.post(challenge["url"], {}))
    await acme_env.validation.held.wait()
    # The validator is running inside the request: had the process died now, this row is what survives.
    job = await _job(acme_env, "validate", challenge["url"].rsplit("/", 1)[-1])
    assert job is not None
    assert job.lease_owner is not None
    assert job.lease_expires_at is not None
    release.set()
    assert (await posted).json()["status"] == "valid"
    assert await _job(acme_env, "validate", challenge["url"].rsplit("/", 1)[-1]) is None


async def test_a_validation_taken_over_after_its_lease_is_applied_once(acme_env: AcmeEnv) -> None:
    acme_env.validation.settings = WAIT
    acme_env.validation.hold = release = asyncio.Event()
    client = await acme_env.registered()
    order_url, authz_url, challenge = await _pending(client, "race.test")
    posted = asyncio.create_task(client.post(challenge["url"], {}))
    await acme_env.validation.held.wait()
    await _expire_lease(acme_env, "validate")  # a worker takes the job over and validates again (valid)
    assert (await client.poll(authz_url, until=("valid", "invalid"))).json()["status"] == "valid"
    assert len(acme_env.validation.calls) == 2
    acme_env.validation.failures["race.test"] = IncorrectResponse("too late")  # the first attempt's verdict
    release.set()
    answered = (await posted).json()
    assert answered["status"] == "valid", "the request reports the stored outcome, not its late verdict"
    assert "error" not in answered
    assert (await client.get(authz_url)).json()["status"] == "valid"
    assert (await client.get(order_url)).json()["status"] == "ready"


async def test_a_slow_finalize_answers_processing_and_issues_in_the_background(
    acme_env: AcmeEnv, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["issue-later.test"])
    acme_env.validation.settings = AT_ONCE
    release, entered = _gate_issuance(monkeypatch, acme_env.engine)
    reply = await client.finalize(order, make_csr(["issue-later.test"])[0])
    assert (reply.json()["status"], reply.headers["Retry-After"]) == ("processing", "1")
    assert "certificate" not in reply.json()
    await entered.wait()
    assert await _job(acme_env, "finalize", order["url"].rsplit("/", 1)[-1]) is not None
    clock.offset = timedelta(seconds=2.5)
    assert (await client.get(order["url"])).headers["Retry-After"] in ("3", "4")
    release.set()
    done = (await client.poll(order["url"], until=("valid", "invalid"))).json()
    assert done["status"] == "valid"
    assert done["certificate"]
    assert await acme_env.certificate_count() == 1


async def test_a_finalize_taken_over_after_its_lease_is_settled_once(
    acme_env: AcmeEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["finalize-race.test"])
    acme_env.validation.settings = WAIT
    release, entered = _gate_issuance(monkeypatch, acme_env.engine)
    posted = asyncio.create_task(client.finalize(order, make_csr(["finalize-race.test"])[0]))
    await entered.wait()
    await _expire_lease(acme_env, "finalize")  # a worker resumes the job and issues
    stored = (await client.poll(order["url"], until=("valid", "invalid"))).json()
    assert stored["status"] == "valid"
    release.set()
    answered = (await posted).json()
    assert (answered["status"], answered["certificate"]) == ("valid", stored["certificate"])
    assert (await client.get(order["url"])).json()["certificate"] == stored["certificate"]
    # The late attempt had already signed when it lost; its certificate is stored but belongs to no order.
    assert await acme_env.certificate_count() == 2
    [lost] = [r for r in caplog.records if r.name == "acmeca.acme.service.finalize"]
    assert lost.getMessage() == "finalize settled by another attempt; this certificate is not the order's"
    assert isinstance(getattr(lost, "serial", None), str)
    assert not stored["certificate"].endswith(f"/{getattr(lost, 'serial', None)}")
    async with acme_env.database.read() as tx:
        assert await tx.scalar(sa.select(sa.func.count()).select_from(jobs_table)) == 0


async def test_a_finalize_that_meets_a_database_outage_stays_processing(
    acme_env: AcmeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage is not the order's fault: 503 now, the order still processing, its job left to resume."""
    client = await acme_env.registered()
    order = await acme_env.ready_order(client, ["outage.test"])

    async def unavailable(_request: IssuanceRequest) -> None:
        raise ServiceUnavailable("the database is unavailable, try again")

    monkeypatch.setattr(acme_env.engine, "issue", unavailable)
    reply = await client.finalize(order, make_csr(["outage.test"])[0])
    assert reply.status == 503
    assert "Retry-After" in reply.headers
    assert (await client.get(order["url"])).json()["status"] == "processing"
    assert await _job(acme_env, "finalize", order["url"].rsplit("/", 1)[-1]) is not None
