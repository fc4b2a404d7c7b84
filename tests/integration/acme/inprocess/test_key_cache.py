"""The parsed-account-key cache never outlives the row: changes another replica makes are seen at once.

Another replica is played by writing the account row straight through the store, as a process sharing only
the database would; the server under test has served (and cached) the old key just before.
"""

from __future__ import annotations

from datetime import UTC, datetime

from acmeca.store import acme_accounts
from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import AccountKey


async def test_a_key_rolled_over_elsewhere_is_refused_at_once_and_the_new_one_works(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    assert client.kid
    assert (await client.new_order([{"type": "dns", "value": "before.test"}])).status == 201  # key now cached
    old, new = client.key, AccountKey.generate("ec")  # same alg: only the signature can tell
    async with acme_env.database.write() as tx:
        assert await acme_accounts.change_key(
            tx, client.kid.rsplit("/", 1)[1], old_thumbprint=old.thumbprint, new_thumbprint=new.thumbprint,
            jwk=new.jwk,
        )
    stale = await client.new_order([{"type": "dns", "value": "stale.test"}])
    assert (stale.status, stale.problem_type) == (400, "malformed"), stale.body
    assert "signature is invalid" in stale.json()["detail"]
    client.key = new
    assert (await client.new_order([{"type": "dns", "value": "after.test"}])).status == 201


async def test_an_account_deactivated_elsewhere_is_refused_at_once(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    assert client.kid
    assert (await client.new_order([{"type": "dns", "value": "before.test"}])).status == 201
    async with acme_env.database.write() as tx:
        assert await acme_accounts.deactivate(tx, client.kid.rsplit("/", 1)[1], datetime.now(UTC))
    refused = await client.new_order([{"type": "dns", "value": "after.test"}])
    assert (refused.status, refused.problem_type) == (401, "unauthorized"), refused.body
