"""The CAError → problem document table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acmeca.acme.service.accounts import summary_json
from acmeca.acme.web.problems import problem_document, problem_response
from acmeca.acme.web.resources import stored_problem
from acmeca.domain import errors as e
from acmeca.domain.identifiers import dns

# RFC 8555 §6.7 registered types plus invalidProfile (profiles draft) and alreadyReplaced (RFC 9773)
REGISTERED = {
    "accountDoesNotExist", "alreadyRevoked", "alreadyReplaced", "badCSR", "badNonce", "badPublicKey",
    "badRevocationReason", "badSignatureAlgorithm", "caa", "compound", "connection", "dns", "externalAccountRequired",
    "incorrectResponse", "invalidContact", "invalidProfile", "malformed", "orderNotReady", "rateLimited",
    "rejectedIdentifier", "serverInternal", "tls", "unauthorized", "unsupportedContact", "unsupportedIdentifier",
    "userActionRequired",
}


def _instance(cls: type[e.CAError]) -> e.CAError:
    if cls is e.BadSignatureAlgorithm:
        return cls("x", algorithms=["ES256"])
    if cls is e.RateLimited:
        return cls("x", retry_after=timedelta(seconds=90))
    return cls("x")


@pytest.mark.parametrize("cls", sorted(e.ERROR_KINDS.values(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_error_renders_a_registered_type(cls: type[e.CAError]) -> None:
    body = problem_document(_instance(cls))
    kind = body["type"].removeprefix("urn:ietf:params:acme:error:")
    assert kind in REGISTERED
    assert 400 <= body["status"] < 600


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (e.UnsupportedMediaType("x"), 415, "malformed"),
        (e.PayloadTooLarge("x"), 413, "malformed"),
        (e.AccountDeactivated("x"), 401, "unauthorized"),
        (e.Unauthorized("x"), 403, "unauthorized"),
        (e.OrderNotReady("x"), 403, "orderNotReady"),
        (e.AccountDoesNotExist("x"), 400, "accountDoesNotExist"),
        (e.IncorrectResponse("x"), 403, "incorrectResponse"),
    ],
)
def test_pinned_statuses(error: e.CAError, status: int, kind: str) -> None:
    assert problem_document(error)["status"] == status
    assert problem_document(error)["type"].endswith(":" + kind)


def test_internal_details_do_not_leak_and_carry_retry_after() -> None:
    response = problem_response(e.CAError("psycopg: connection to 10.0.0.5 refused"))
    assert response.status == 500
    assert "10.0.0.5" not in (response.text or "")
    assert response.headers["Retry-After"] == "60"
    limited = problem_response(e.RateLimited("slow down", retry_after=timedelta(seconds=90)))
    assert (limited.status, limited.headers["Retry-After"]) == (429, "90")


def test_subproblems_carry_identifiers_and_algorithms_list() -> None:
    error = e.RejectedIdentifier("no", subproblems=[e.Subproblem(e.Malformed("bad"), dns("a.test"))])
    body = problem_document(error)
    assert body["subproblems"] == [
        {"type": "urn:ietf:params:acme:error:malformed", "detail": "bad", "status": 400,
         "identifier": {"type": "dns", "value": "a.test"}}
    ]
    assert "identifier" not in body
    assert problem_document(e.BadSignatureAlgorithm("x", algorithms=["ES256"]))["algorithms"] == ["ES256"]


@pytest.mark.parametrize("cls", sorted(e.ERROR_KINDS.values(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_a_stored_error_renders_as_the_live_one_did(cls: type[e.CAError]) -> None:
    """Rebuilt errors lack extra constructor arguments; rendering must not need them (nor crash on them)."""
    live = _instance(cls)
    body = stored_problem(summary_json(e.ErrorSummary.of(live)))
    assert {k: body[k] for k in ("type", "detail", "status")} == {
        k: problem_document(live)[k] for k in ("type", "detail", "status")
    }


def test_a_stored_unknown_kind_renders_as_server_internal_without_its_detail() -> None:
    body = stored_problem({"kind": "kindFromAFutureRelease", "detail": "db at 10.0.0.5 said no"})
    assert body == {"type": "urn:ietf:params:acme:error:serverInternal",
                    "detail": "the server could not complete the request", "status": 500}
