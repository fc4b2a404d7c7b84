"""External Account Binding verification, one row per rule of RFC 8555 §7.3.4 (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from acmeca.acme.service.eab import ExternalAccountBinder, bind
from acmeca.crypto.jose import generate_jwk, public_part
from acmeca.domain import errors as e
from acmeca.domain.acme import EabKeyRecord
from acmeca.store import eab_keys
from acmeca.store.database import Database

NOW = datetime(2026, 6, 1, tzinfo=UTC)
URL = "https://ca.test/acme/eab/new-account"
SECRET = b"k" * 32
ACCOUNT = public_part(generate_jwk())
OTHER = public_part(generate_jwk())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def binding(*, alg: str = "HS256", kid: str = "key-1", url: str = URL, jwk: dict[str, Any] = ACCOUNT,
            secret: bytes = SECRET, extra: dict[str, Any] | None = None) -> dict[str, str]:
    protected = b64(json.dumps({"alg": alg, "kid": kid, "url": url, **(extra or {})}).encode())
    payload = b64(json.dumps(jwk).encode())
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(alg, hashlib.sha256)
    return {"protected": protected, "payload": payload,
            "signature": b64(hmac.new(secret, f"{protected}.{payload}".encode(), digest).digest())}


@pytest.fixture
async def binder(database: Database) -> ExternalAccountBinder:
    async with database.write() as tx:
        for key_id, provisioner_id, reference in [("key-1", "p1", "a"), ("key-2", "p2", "b")]:
            await eab_keys.create(tx, EabKeyRecord(
                id=key_id, provisioner_id=provisioner_id, reference=reference, hmac_key=SECRET, created_at=NOW,
            ))
    return ExternalAccountBinder(database)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_valid_bindings(binder: ExternalAccountBinder, alg: str) -> None:
    sent = binding(alg=alg)
    verified = await binder.verify("p1", {"externalAccountBinding": sent}, account_jwk=ACCOUNT, url=URL)
    assert (verified.key_id, verified.binding) == ("key-1", sent)


CASES: list[tuple[Any, type[e.CAError]]] = [
    (None, e.ExternalAccountRequired),
    ("a string", e.Malformed),
    ({**binding(), "extra": "x"}, e.Malformed),
    (binding(alg="RS256"), e.Malformed),
    (binding(alg="none"), e.Malformed),
    (binding(kid=""), e.Malformed),
    (binding(url="https://ca.test/other"), e.Malformed),
    (binding(extra={"nonce": "abc"}), e.Malformed),
    ({**binding(), "signature": "a=="}, e.Malformed),
    (binding(kid="unknown"), e.Unauthorized),
    (binding(kid="key-2"), e.Unauthorized),  # a key of another provisioner
    (binding(secret=b"wrong" * 8), e.Unauthorized),
    (binding(jwk=OTHER), e.Unauthorized),  # binds a different account key
]


@pytest.mark.parametrize(("sent", "error"), CASES)
async def test_refused_bindings(binder: ExternalAccountBinder, sent: Any, error: type[e.CAError]) -> None:
    payload = {} if sent is None else {"externalAccountBinding": sent}
    with pytest.raises(error):
        await binder.verify("p1", payload, account_jwk=ACCOUNT, url=URL)


async def test_a_key_binds_exactly_one_account(binder: ExternalAccountBinder, database: Database) -> None:
    verified = await binder.verify("p1", {"externalAccountBinding": binding()}, account_jwk=ACCOUNT, url=URL)
    async with database.write() as tx:
        await bind(tx, verified, "account-1", NOW)
    with pytest.raises(e.Unauthorized):
        async with database.write() as tx:
            await bind(tx, verified, "account-2", NOW)  # the race loser
    with pytest.raises(e.Unauthorized, match="already bound"):
        await binder.verify("p1", {"externalAccountBinding": binding()}, account_jwk=ACCOUNT, url=URL)
