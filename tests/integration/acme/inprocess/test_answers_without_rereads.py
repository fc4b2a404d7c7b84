"""Answers built from what a request just wrote, not read back, must equal what a later read shows.

A challenge POST answered with its settled verdict reuses the challenge and authorization it read and moved;
the order's roll-up is one UPDATE. Each test compares the inline answer with a fresh POST-as-GET, and checks
the stored rows straight in the database (the order resource rolls its status up on read, so reading it
through the API would hide a roll-up that never ran).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from acmeca.config import ValidationSettings
from acmeca.domain.errors import IncorrectResponse
from acmeca.store.schema import acme_orders
from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import AcmeClient

WAIT = ValidationSettings(settle_within=timedelta(seconds=30))


async def _stored_order(env: AcmeEnv, order_url: str) -> Any:
    async with env.database.read() as tx:
        return await tx.first(
            sa.select(acme_orders.c.status, acme_orders.c.error).where(acme_orders.c.id == order_url.rsplit("/", 1)[-1])
        )


async def _challenges(client: AcmeClient, names: list[str]) -> tuple[str, list[dict[str, Any]]]:
    reply = await client.new_order([{"type": "dns", "value": n} for n in names])
    assert reply.status == 201, reply.body
    found = [(await client.get(url)).json()["challenges"][0] for url in reply.json()["authorizations"]]
    return reply.headers["Location"], found


async def test_a_valid_answer_equals_a_later_read_and_the_order_moves_when_its_last_authz_does(
    acme_env: AcmeEnv,
) -> None:
    acme_env.validation.settings = WAIT
    client = await acme_env.registered()
    order_url, (first, second) = await _challenges(client, ["one.test", "two.test"])
    answered = await client.post(first["url"], {})
    assert answered.json()["status"] == "valid"
    again = await client.get(first["url"])
    assert answered.json() == again.json()
    assert answered.headers["Link"] == again.headers["Link"]
    assert (await _stored_order(acme_env, order_url)).status == "pending", "one authorization is still pending"
    assert (await client.post(second["url"], {})).json() == (await client.get(second["url"])).json()
    assert (await _stored_order(acme_env, order_url)).status == "ready"


async def test_an_invalid_answer_equals_a_later_read_and_the_order_is_stored_invalid(acme_env: AcmeEnv) -> None:
    acme_env.validation.settings = WAIT
    acme_env.validation.failures["bad.test"] = IncorrectResponse("expected abc, got def")
    client = await acme_env.registered()
    order_url, (challenge,) = await _challenges(client, ["bad.test"])
    answered = (await client.post(challenge["url"], {})).json()
    assert answered["status"] == "invalid"
    assert answered == (await client.get(challenge["url"])).json()
    stored = await _stored_order(acme_env, order_url)
    assert stored.status == "invalid"
    assert stored.error["subproblems"][0][:2] == ["incorrectResponse", "expected abc, got def"]
