"""How accounts, orders, authorizations and challenges look on the wire (RFC 8555 §7.1).

Timestamps are RFC 3339 UTC with whole seconds and a ``Z`` (certbot once choked on fractions). Stored errors
are rebuilt into CAErrors and rendered through the same problem table as live ones.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from acmeca.acme.service.accounts import summary_from_json
from acmeca.acme.web.problems import problem_document
from acmeca.acme.web.urls import ACCOUNT_ORDERS, AUTHZ, CERTIFICATE, CHALLENGE, FINALIZE, url_for
from acmeca.domain.acme import AccountRecord, AuthorizationRecord, ChallengeRecord, OrderRecord
from acmeca.domain.encoding import rfc3339
from acmeca.domain.errors import error_from_summary
from acmeca.domain.status import ChallengeStatus, OrderStatus


def stored_problem(value: dict[str, Any]) -> dict[str, Any]:
    return problem_document(error_from_summary(summary_from_json(value)))


def account_json(request: web.Request, account: AccountRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": account.status.value,
        "contact": list(account.contact),
        "orders": url_for(request, ACCOUNT_ORDERS, account_id=account.id),
    }
    if account.tos_agreed:
        body["termsOfServiceAgreed"] = True
    if account.eab_binding:
        body["externalAccountBinding"] = account.eab_binding
    return body


def order_json(request: web.Request, order: OrderRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": order.status.value,
        "expires": rfc3339(order.expires_at),
        "identifiers": [i.to_json() for i in order.identifiers],
        "authorizations": [url_for(request, AUTHZ, authz_id=a) for a in order.authz_ids],
        "finalize": url_for(request, FINALIZE, order_id=order.id),
        "profile": order.profile,
    }
    if order.replaces:
        body["replaces"] = order.replaces
    if order.not_before:
        body["notBefore"] = rfc3339(order.not_before)
    if order.not_after:
        body["notAfter"] = rfc3339(order.not_after)
    if order.error and order.status is OrderStatus.INVALID:
        body["error"] = stored_problem(order.error)
    if order.certificate_serial and order.status is OrderStatus.VALID:
        body["certificate"] = url_for(request, CERTIFICATE, serial=order.certificate_serial)
    return body


def challenge_json(request: web.Request, challenge: ChallengeRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": challenge.type.value,
        "url": url_for(request, CHALLENGE, authz_id=challenge.authz_id, challenge_id=challenge.id),
        "status": challenge.status.value,
        "token": challenge.token,
    }
    if challenge.validated_at and challenge.status is ChallengeStatus.VALID:
        body["validated"] = rfc3339(challenge.validated_at)
    if challenge.error:
        body["error"] = stored_problem(challenge.error)
    if challenge.validation_record:
        body["validationRecord"] = challenge.validation_record
    return body


def authz_json(request: web.Request, authz: AuthorizationRecord) -> dict[str, Any]:
    # Every challenge stays listed, tried or not: clients (cert-manager) stumble when some disappear.
    body: dict[str, Any] = {
        "identifier": authz.identifier.to_json(),
        "status": authz.status.value,
        "expires": rfc3339(authz.expires_at),
        "challenges": [challenge_json(request, c) for c in authz.challenges],
    }
    if authz.wildcard:
        body["wildcard"] = True
    return body
