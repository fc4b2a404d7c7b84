"""The three error tables: one lookup rule, every class mapped, today's statuses pinned for every class."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acmeca.acme.web.problems import TABLE as ACME
from acmeca.admin.web.errors import TABLE as ADMIN
from acmeca.domain import errors as e
from acmeca.policy.constraints import InvalidPolicy
from acmeca.step.web.errors import STATUS as STEP

TABLES = {"acme": ACME, "step": STEP, "admin": ADMIN}

# class, (ACME type, status), step status, (admin status, admin type): what each front end answers today.
PINNED = [
    (e.AccountDeactivated, ("unauthorized", 401), 401, (401, "unauthorized")),
    (e.AccountDoesNotExist, ("accountDoesNotExist", 400), 404, (400, "badRequest")),
    (e.AlreadyReplaced, ("alreadyReplaced", 409), 400, (400, "badRequest")),
    (e.AlreadyRevoked, ("alreadyRevoked", 400), 400, (400, "badRequest")),
    (e.BadCSR, ("badCSR", 400), 400, (400, "badRequest")),
    (e.LintRefused, ("badCSR", 400), 400, (400, "badRequest")),
    (e.BadNonce, ("badNonce", 400), 400, (400, "badRequest")),
    (e.BadPublicKey, ("badPublicKey", 400), 403, (400, "badRequest")),
    (e.BadRevocationReason, ("badRevocationReason", 400), 400, (400, "badRequest")),
    (e.BadSignatureAlgorithm, ("badSignatureAlgorithm", 400), 400, (400, "badRequest")),
    (e.CAAProblem, ("caa", 403), 400, (400, "badRequest")),
    (e.CAError, ("serverInternal", 500), 500, (500, "internalServerError")),
    (e.Conflict, ("malformed", 409), 409, (409, "conflict")),
    (e.ConnectionProblem, ("connection", 400), 400, (400, "badRequest")),
    (e.DNSProblem, ("dns", 400), 400, (400, "badRequest")),
    (e.ExternalAccountRequired, ("externalAccountRequired", 403), 400, (400, "badRequest")),
    (e.Forbidden, ("rejectedIdentifier", 400), 403, (400, "badRequest")),
    (e.IncorrectResponse, ("incorrectResponse", 403), 400, (400, "badRequest")),
    (e.InvalidContact, ("invalidContact", 400), 400, (400, "badRequest")),
    (InvalidPolicy, ("malformed", 400), 400, (400, "badRequest")),
    (e.InvalidProfile, ("invalidProfile", 400), 400, (400, "badRequest")),
    (e.Malformed, ("malformed", 400), 400, (400, "badRequest")),
    (e.MethodNotAllowed, ("malformed", 405), 405, (400, "badRequest")),
    (e.NotFound, ("malformed", 404), 404, (404, "notFound")),
    (e.NotImplementedYet, ("malformed", 501), 501, (501, "notImplemented")),
    (e.OrderNotReady, ("orderNotReady", 403), 400, (400, "badRequest")),
    (e.PayloadTooLarge, ("malformed", 413), 413, (400, "badRequest")),
    (e.RequestTimeout, ("malformed", 408), 408, (400, "badRequest")),
    (e.RateLimited, ("rateLimited", 429), 429, (400, "badRequest")),
    (e.RejectedIdentifier, ("rejectedIdentifier", 400), 403, (400, "badRequest")),
    (e.ServerInternal, ("serverInternal", 500), 500, (500, "internalServerError")),
    (e.ServiceUnavailable, ("serverInternal", 503), 503, (503, "internalServerError")),
    (e.TLSProblem, ("tls", 400), 400, (400, "badRequest")),
    (e.Unauthenticated, ("unauthorized", 401), 401, (401, "unauthorized")),
    (e.Unauthorized, ("unauthorized", 403), 401, (401, "unauthorized")),
    (e.UnsupportedContact, ("unsupportedContact", 400), 400, (400, "badRequest")),
    (e.UnsupportedIdentifier, ("unsupportedIdentifier", 400), 400, (400, "badRequest")),
    (e.UnsupportedMediaType, ("malformed", 415), 415, (400, "badRequest")),
    (e.UserActionRequired, ("userActionRequired", 403), 400, (400, "badRequest")),
    (e.ValidationError, ("malformed", 400), 400, (400, "badRequest")),
]


def _instance(cls: type[e.CAError]) -> e.CAError:
    if cls is e.BadSignatureAlgorithm:
        return cls("x", algorithms=["ES256"])
    if cls is e.RateLimited:
        return cls("x", retry_after=timedelta(seconds=90))
    return cls("x")


@pytest.mark.parametrize(("cls", "acme", "step", "admin"), PINNED, ids=lambda v: getattr(v, "__name__", ""))
def test_every_class_renders_as_pinned_in_every_table(
    cls: type[e.CAError], acme: tuple[str, int], step: int, admin: tuple[int, str]
) -> None:
    error = _instance(cls)
    assert ACME.lookup(error) == acme
    assert STEP.lookup(error) == step
    assert ADMIN.lookup(error)[:2] == admin


def test_the_pins_name_every_registered_class() -> None:
    assert {row[0] for row in PINNED} == set(e.ERROR_KINDS.values())


@pytest.mark.parametrize("name", TABLES)
def test_no_class_falls_through_to_the_catch_all_row(name: str) -> None:
    """A new subclass of CAError itself must be given a row (or a parent with one) in every table."""
    unmapped = [cls.__name__ for cls in e.ERROR_KINDS.values() if cls is not e.CAError and not TABLES[name].covers(cls)]
    assert unmapped == []


def test_the_nearest_row_in_the_mro_wins_and_ca_error_is_the_last_resort() -> None:
    table = e.ErrorTable({e.CAError: "base", e.Malformed: "malformed", e.MethodNotAllowed: "method"})
    assert table.lookup(e.MethodNotAllowed("x")) == "method"
    assert table.lookup(InvalidPolicy("x")) == "malformed"  # a subclass without a row renders as its parent
    assert table.lookup(e.NotFound("x")) == "base"
    assert table.lookup(e.CAError("x")) == "base"
    assert table.covers(InvalidPolicy)
    assert not table.covers(e.NotFound)


def test_a_table_without_a_ca_error_row_is_refused() -> None:
    with pytest.raises(ValueError, match="CAError row"):
        e.ErrorTable({e.Malformed: 400})
