"""newOrder's notBefore/notAfter as the real step CLI sends them, and as step-ca reads them.

step's ACME client always sends both fields, Go's zero time (``0001-01-01T00:00:00Z``) for a flag not given,
and an absolute notAfter computed before the request leaves (``--not-after 5m``). step-ca reads the zero time
as unset and measures the duration from the order's backdated notBefore (now − backdate).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509

from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import AcmeClient, make_csr

GO_ZERO = "0001-01-01T00:00:00Z"
STAMP = "%Y-%m-%dT%H:%M:%SZ"


async def _leaf(env: AcmeEnv, client: AcmeClient, name: str, **fields: Any) -> tuple[dict[str, Any], x509.Certificate]:
    order = await env.ready_order(client, [name], **fields)
    assert order["status"] == "ready", order
    body = (await client.finalize(order, make_csr([name])[0])).json()
    assert body["status"] == "valid", body
    leaf = x509.load_pem_x509_certificates((await client.get(body["certificate"])).body)[0]
    return order, leaf


async def test_go_zero_time_is_unset(acme_env: AcmeEnv) -> None:
    client = await acme_env.registered()
    before = datetime.now(UTC).replace(microsecond=0)
    order, leaf = await _leaf(acme_env, client, "zero.test", notBefore=GO_ZERO, notAfter=GO_ZERO)
    assert "notBefore" not in order
    assert "notAfter" not in order
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(hours=24, minutes=1)
    assert leaf.not_valid_before_utc >= before - timedelta(minutes=1)


async def test_only_not_after_as_step_sends_it(acme_env: AcmeEnv) -> None:
    """``step ca certificate ... --not-after 12h``: a zero notBefore and an absolute notAfter."""
    client = await acme_env.registered()
    sent = datetime.now(UTC).replace(microsecond=0)
    end = sent + timedelta(hours=12)
    order, leaf = await _leaf(acme_env, client, "twelve.test", notBefore=GO_ZERO, notAfter=end.strftime(STAMP))
    start = datetime.strptime(order["notBefore"], STAMP).replace(tzinfo=UTC)
    assert sent - timedelta(minutes=1) <= start <= sent - timedelta(seconds=55)  # fixed at newOrder, backdated
    assert order["notAfter"] == end.strftime(STAMP)
    assert (leaf.not_valid_before_utc, leaf.not_valid_after_utc) == (start, end)


@pytest.mark.parametrize("after_sending", [timedelta(minutes=4, seconds=59), timedelta(minutes=4)])
async def test_a_minimum_length_request_that_took_a_moment_to_arrive(
    acme_env: AcmeEnv, after_sending: timedelta
) -> None:
    """The claims' 5m minimum is met by the certificate's duration (notBefore is backdated by 1m)."""
    client = await acme_env.registered()
    end = datetime.now(UTC).replace(microsecond=0) + after_sending
    _, leaf = await _leaf(acme_env, client, "short.test", notAfter=end.strftime(STAMP))
    assert leaf.not_valid_after_utc == end
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc >= timedelta(minutes=5)
    too_short = await client.new_order([{"type": "dns", "value": "shorter.test"}],
                                       notAfter=(end - timedelta(minutes=1)).strftime(STAMP))
    assert (too_short.status, too_short.problem_type) == (400, "malformed")
    assert "less than the authorized minimum certificate duration of 5m0s" in too_short.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"notBefore": "0001-01-01T00:00:00+01:00"}, "notBefore 0001-01-01T00:00:00+01:00 is out of range"),
        ({"notAfter": "9999-12-31T23:59:59-01:00"}, "notAfter 9999-12-31T23:59:59-01:00 is out of range"),
        ({"notBefore": "9999-12-31T12:00:00Z"}, "notBefore is out of range"),
        ({"notBefore": GO_ZERO, "notAfter": "0001-01-01T00:00:01Z"}, "notAfter is in the past"),
    ],
)
async def test_times_out_of_range_are_malformed_naming_the_field(
    acme_env: AcmeEnv, fields: dict[str, str], detail: str
) -> None:
    client = await acme_env.registered()
    reply = await client.new_order([{"type": "dns", "value": "range.test"}], **fields)
    assert (reply.status, reply.problem_type) == (400, "malformed"), reply.body
    assert reply.json()["detail"] == detail
