"""A database outage (ServiceUnavailable) through each front end's renderer: 503, its own format, Retry-After."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from aiohttp import web

from acmeca.acme.web.problems import problem_response
from acmeca.admin.web.errors import render_admin_error
from acmeca.domain import errors as e
from acmeca.step.web.errors import render_step_error

OUTAGE = e.ServiceUnavailable("the database is unavailable, try again", retry_after=timedelta(seconds=4.2))


@pytest.mark.parametrize(
    ("render", "detail_key"),
    [(problem_response, "detail"), (render_step_error, "message"), (render_admin_error, "message")],
    ids=["acme", "step", "admin"],
)
def test_every_front_end_answers_503_with_retry_after_rounded_up(
    render: Callable[[e.CAError], web.Response], detail_key: str
) -> None:
    response = render(OUTAGE)
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert json.loads(response.text or "")[detail_key] == "the database is unavailable, try again"


def test_acme_names_the_outage_server_internal() -> None:
    body = json.loads(problem_response(OUTAGE).text or "")
    assert body["type"] == "urn:ietf:params:acme:error:serverInternal"


def test_a_stored_outage_keeps_a_retry_after() -> None:
    rebuilt = e.error_from_summary(e.ErrorSummary.of(OUTAGE))
    assert isinstance(rebuilt, e.ServiceUnavailable)
    assert render_step_error(rebuilt).headers["Retry-After"] == "5"
