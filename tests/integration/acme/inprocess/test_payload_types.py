"""Wrongly typed payload members are client errors (400 malformed), never a 500 or a traceback."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.acme.inprocess.conftest import AcmeEnv

# (resource, payload) where resource is "newOrder", "account", "finalize", "revoke", "authz", "newAccount"
BAD_PAYLOADS: list[tuple[str, Any]] = [
    ("newOrder", {"identifiers": "www.test"}),
    ("newOrder", {"identifiers": [{"type": 1, "value": []}]}),
    ("newOrder", {"identifiers": [["dns", "a.test"]]}),
    ("newOrder", {"identifiers": [{"type": "dns"}]}),
    ("newOrder", {"identifiers": [{"type": "dns", "value": "a.test"}], "notBefore": 5}),
    ("newOrder", {"identifiers": [{"type": "dns", "value": "a.test"}], "notAfter": "yesterday"}),
    ("newOrder", []),
    ("newOrder", "text"),
    ("account", {"contact": "mailto:a@b.test"}),
    ("account", {"contact": [1, 2]}),
    ("account", {"status": 5}),
    ("newAccount", {"contact": {"mailto": "a@b.test"}}),
    ("finalize", {"csr": 123}),
    ("finalize", {"csr": "not base64 !"}),
    ("finalize", {}),
    ("revoke", {"certificate": ["x"]}),
    ("revoke", {"certificate": "AAAA"}),
    ("authz", {"status": ["deactivated"]}),
]


@pytest.mark.parametrize(("resource", "payload"), BAD_PAYLOADS, ids=[f"{r}-{p!r}"[:60] for r, p in BAD_PAYLOADS])
async def test_bad_payload_is_malformed(acme_env: AcmeEnv, resource: str, payload: Any) -> None:
    client = await acme_env.registered()
    directory = await client.directory()
    order = (await client.new_order([{"type": "dns", "value": "a.test"}])).json()
    url = {
        "newOrder": directory["newOrder"], "account": client.kid, "finalize": order["finalize"],
        "revoke": directory["revokeCert"], "authz": order["authorizations"][0],
        "newAccount": directory["newAccount"],
    }[resource]
    use_jwk = resource == "newAccount"
    if use_jwk:
        client = acme_env.client()
    reply = await client.post(url, payload, use_jwk=use_jwk)
    assert reply.status < 500, reply.body
    if resource == "finalize" and payload and isinstance(payload.get("csr"), str):
        assert reply.problem_type in ("malformed", "orderNotReady")
    else:
        assert (reply.status, reply.problem_type) in ((400, "malformed"), (403, "orderNotReady")), reply.body
