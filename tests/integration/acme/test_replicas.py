"""Two ``acmeca serve`` processes on one database behave as one CA (nonces, accounts, orders, jobs)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.integration.acme.conftest import LiveAcme
from tests.integration.acme.test_live import _assert_chain, _obtain
from tests.support.ca_server import CAServer, free_port


@pytest.fixture
def second_replica(live_acme: LiveAcme) -> Iterator[CAServer]:
    first = live_acme.server
    replica = CAServer(home=first.home.parent / "replica", port=free_port(), db=first.db)
    shutil.copytree(first.home, replica.home, ignore=shutil.ignore_patterns("serve.log", "db"))
    replica.edit_config(lambda document: document.update({"address": f"127.0.0.1:{replica.port}"}))
    replica.start()
    yield replica
    assert replica.stop() == 0, replica.log()


async def test_requests_alternating_between_replicas(live_acme: LiveAcme, second_replica: CAServer) -> None:
    client = live_acme.client()
    client.replica_ports = (live_acme.server.port, second_replica.port)
    assert (await client.register()).status == 201
    chain = await _obtain(live_acme, client, ["replicated.test"], "http-01")
    _assert_chain(live_acme, chain, {"replicated.test"})
    assert client._sent >= 8, "the whole flow went round-robin through both processes"
    nonce = await client.nonce()  # minted by one replica ...
    reply = await client.post(client.kid or "", None, retry_bad_nonce=False, nonce_override=nonce)
    assert reply.status == 200
    replay = await client.post(client.kid or "", None, retry_bad_nonce=False, nonce_override=nonce)
    assert (replay.status, replay.problem_type) == (400, "badNonce"), "... and spent once across both"
