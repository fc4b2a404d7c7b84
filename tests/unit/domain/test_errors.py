"""Stored errors: every class has a stable kind, round-trips through its storage form, and unknown kinds degrade."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import acmeca.policy.constraints  # noqa: F401  (defines InvalidPolicy: a CAError subclass outside the domain)
from acmeca.acme.service.accounts import summary_from_json, summary_json
from acmeca.domain import errors as e
from acmeca.domain.errors import (
    ConnectionProblem,
    ErrorSummary,
    RejectedIdentifier,
    Subproblem,
    error_from_summary,
)
from acmeca.domain.identifiers import dns

# Once written to a database a kind must keep its meaning: changing this table needs a migration (see 0002).
PINNED_KINDS = {
    "unclassified": "CAError", "malformed": "Malformed", "methodNotAllowed": "MethodNotAllowed",
    "unsupportedMediaType": "UnsupportedMediaType", "payloadTooLarge": "PayloadTooLarge",
    "requestTimeout": "RequestTimeout", "notFound": "NotFound",
    "unauthorized": "Unauthorized", "unauthenticated": "Unauthenticated", "accountDeactivated": "AccountDeactivated",
    "forbidden": "Forbidden", "badNonce": "BadNonce", "badSignatureAlgorithm": "BadSignatureAlgorithm",
    "badPublicKey": "BadPublicKey", "badCSR": "BadCSR", "badRevocationReason": "BadRevocationReason",
    "alreadyRevoked": "AlreadyRevoked", "alreadyReplaced": "AlreadyReplaced",
    "accountDoesNotExist": "AccountDoesNotExist", "externalAccountRequired": "ExternalAccountRequired",
    "orderNotReady": "OrderNotReady", "rejectedIdentifier": "RejectedIdentifier",
    "unsupportedIdentifier": "UnsupportedIdentifier", "invalidContact": "InvalidContact",
    "unsupportedContact": "UnsupportedContact", "invalidProfile": "InvalidProfile",
    "userActionRequired": "UserActionRequired", "conflict": "Conflict", "rateLimited": "RateLimited",
    "notImplemented": "NotImplementedYet", "serverInternal": "ServerInternal",
    "serviceUnavailable": "ServiceUnavailable", "validationFailed": "ValidationError",
    "connection": "ConnectionProblem",
    "dns": "DNSProblem", "tls": "TLSProblem", "incorrectResponse": "IncorrectResponse", "caa": "CAAProblem",
    "invalidPolicy": "InvalidPolicy", "lintRefused": "LintRefused",
}


def _instance(cls: type[e.CAError]) -> e.CAError:
    if cls is e.BadSignatureAlgorithm:
        return cls("x", algorithms=["ES256"])
    if cls is e.RateLimited:
        return cls("x", retry_after=timedelta(seconds=90))
    return cls("detail of " + cls.__name__)


def _every_subclass(cls: type[e.CAError]) -> list[type[e.CAError]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _every_subclass(sub))]


def _stored(error: e.CAError) -> e.CAError:
    """Through exactly what a row holds: summary_json, a JSON text, summary_from_json."""
    row = json.loads(json.dumps(summary_json(ErrorSummary.of(error))))
    return error_from_summary(summary_from_json(row))


def test_kinds_are_pinned_and_every_subclass_is_registered() -> None:
    assert {kind: cls.__name__ for kind, cls in e.ERROR_KINDS.items()} == PINNED_KINDS
    assert set(_every_subclass(e.CAError)) == set(e.ERROR_KINDS.values())
    assert all(cls.kind == kind for kind, cls in e.ERROR_KINDS.items())


@pytest.mark.parametrize("cls", sorted(e.ERROR_KINDS.values(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_error_round_trips_through_its_storage_form(cls: type[e.CAError]) -> None:
    error = _instance(cls)
    error.subproblems = (Subproblem(_instance(cls), dns("a.example")),)
    row = summary_json(ErrorSummary.of(error))
    assert row["kind"] == cls.kind
    assert row["subproblems"][0][0] == cls.kind
    rebuilt = _stored(error)
    assert type(rebuilt) is cls
    assert rebuilt.detail == error.detail
    assert type(rebuilt.subproblems[0].error) is cls
    assert rebuilt.subproblems[0].error.detail == error.detail
    assert rebuilt.subproblems[0].identifier == dns("a.example")


def test_summary_round_trip_keeps_kind_detail_and_subproblems() -> None:
    error = RejectedIdentifier(
        "some names were refused",
        subproblems=[Subproblem(ConnectionProblem("no route"), dns("a.example"))],
    )
    rebuilt = error_from_summary(ErrorSummary.of(error))
    assert type(rebuilt) is RejectedIdentifier
    assert rebuilt.detail == "some names were refused"
    assert type(rebuilt.subproblems[0].error) is ConnectionProblem
    assert rebuilt.subproblems[0].identifier == dns("a.example")


@pytest.mark.parametrize("kind", ["noSuchKind", "", "RejectedIdentifier"])
def test_an_unknown_stored_kind_reads_back_as_a_generic_error(kind: str) -> None:
    stored = {"kind": kind, "detail": "kept", "subproblems": [[kind, "sub", "dns", "a.example"]]}
    rebuilt = error_from_summary(summary_from_json(stored))
    assert type(rebuilt) is e.CAError
    assert rebuilt.detail == "kept"
    assert type(rebuilt.subproblems[0].error) is e.CAError
    assert rebuilt.subproblems[0].identifier == dns("a.example")


def test_a_stored_error_without_a_kind_reads_back_as_a_generic_error() -> None:
    assert type(error_from_summary(summary_from_json({"detail": "old"}))) is e.CAError


def test_a_kind_already_taken_is_refused_and_the_registry_is_unchanged() -> None:
    with pytest.raises(TypeError, match=r"'malformed' of .*Duplicate is already taken by Malformed"):

        class Duplicate(e.CAError, kind="malformed"):
            pass

    assert e.ERROR_KINDS["malformed"] is e.Malformed
    assert "Duplicate" not in {cls.__name__ for cls in e.ERROR_KINDS.values()}


def test_a_subclass_must_declare_its_kind() -> None:
    with pytest.raises(TypeError, match="must declare its stored kind"):

        class Undeclared(e.NotFound):
            pass


def test_the_base_kind_cannot_be_taken_either() -> None:
    with pytest.raises(TypeError, match="already taken by CAError"):

        class Generic(e.CAError, kind="unclassified"):
            pass
