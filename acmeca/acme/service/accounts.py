"""ACME accounts: registration, lookup, contact updates, deactivation and key rollover (RFC 8555 §7.3).

The web edge has already verified the JWS; this module receives the account key as a public JWK plus its
RFC 7638 thumbprint, and decides what the account may do. A provisioner with ``requireEAB`` demands an
External Account Binding (acme/service/eab.py), bound to the new account in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from acmeca.acme.service.eab import ExternalAccountBinder
from acmeca.acme.service.eab import bind as bind_eab_key
from acmeca.acme.service.provisioner import AcmeProvisioner
from acmeca.acme.service.ratelimits import RateLimiter
from acmeca.domain.acme import AccountRecord
from acmeca.domain.clock import Clock
from acmeca.domain.errors import (
    AccountDeactivated,
    AccountDoesNotExist,
    CAError,
    Conflict,
    ErrorSummary,
    InvalidContact,
    Malformed,
    Unauthorized,
    UnsupportedContact,
)
from acmeca.domain.status import AccountStatus
from acmeca.store import acme_accounts, acme_orders
from acmeca.store.database import Database

MAX_CONTACTS = 4


def check_contacts(contact: object) -> tuple[str, ...]:
    """Accept only single-address ``mailto:`` URLs without header fields (RFC 8555 §7.3)."""
    if contact is None:
        return ()
    if not isinstance(contact, list) or not all(isinstance(c, str) for c in contact):
        raise Malformed("contact must be an array of URL strings")
    if len(contact) > MAX_CONTACTS:
        raise InvalidContact(f"at most {MAX_CONTACTS} contacts are allowed")
    for url in contact:
        scheme, _, address = url.partition(":")
        if scheme.lower() != "mailto":
            raise UnsupportedContact(f"contact {url!r} does not use the mailto: scheme")
        address = unquote(address)
        if "?" in address or "," in address or address.count("@") != 1 or not address.split("@")[1]:
            raise InvalidContact(f"contact {url!r} must be a single address without header fields")
        if any(c.isspace() for c in address) or not address.split("@")[0]:
            raise InvalidContact(f"contact {url!r} is not a valid email address")
    return tuple(contact)


class AccountService:
    def __init__(
        self, db: Database, clock: Clock, binder: ExternalAccountBinder | None = None, *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._binder = binder or ExternalAccountBinder(db)
        self._limiter = limiter

    async def register(
        self,
        provisioner: AcmeProvisioner,
        *,
        jwk: dict[str, Any],
        thumbprint: str,
        payload: dict[str, Any],
        created_ip: str | None,
        url: str = "",
    ) -> tuple[AccountRecord, bool]:
        """newAccount: (account, created). An existing key returns its account unchanged (RFC 8555 §7.3.1)."""
        async with self._db.read() as tx:
            existing = await acme_accounts.by_thumbprint(tx, thumbprint)
        if existing is not None:
            return self._usable(existing, provisioner), False
        if payload.get("onlyReturnExisting") is True:
            raise AccountDoesNotExist("no account exists for this key")
        verified = None
        if provisioner.require_eab:
            verified = await self._binder.verify(provisioner.id, payload, account_jwk=jwk, url=url)
        if provisioner.terms_of_service and payload.get("termsOfServiceAgreed") is not True:
            raise Malformed("you must agree to the terms of service (termsOfServiceAgreed: true)")
        if self._limiter is not None:  # only creations count: looking up an existing account is free
            await self._limiter.spend(provisioner.rate_limits.new_accounts_per_ip, created_ip or "unknown")
        account = AccountRecord(
            id=secrets.token_urlsafe(16), provisioner_id=provisioner.id, key_thumbprint=thumbprint, jwk=jwk,
            status=AccountStatus.VALID, contact=check_contacts(payload.get("contact")),
            tos_agreed=payload.get("termsOfServiceAgreed") is True, created_at=self._clock.now(),
            created_ip=created_ip, eab_key_id=verified.key_id if verified else None,
            eab_binding=verified.binding if verified else None,
        )
        try:
            async with self._db.write() as tx:
                await acme_accounts.insert(tx, account)
                if verified is not None:
                    await bind_eab_key(tx, verified, account.id, account.created_at)
        except Conflict:
            async with self._db.read() as tx:
                winner = await acme_accounts.by_thumbprint(tx, thumbprint)
            if winner is None:
                raise
            return self._usable(winner, provisioner), False
        return account, True

    def _usable(self, account: AccountRecord, provisioner: AcmeProvisioner) -> AccountRecord:
        if account.provisioner_id != provisioner.id:
            raise Unauthorized("this key belongs to an account of another provisioner")
        if account.status is not AccountStatus.VALID:
            raise AccountDeactivated(f"the account is {account.status.value}")
        return account

    async def authenticate(self, provisioner: AcmeProvisioner, account_id: str) -> AccountRecord:
        """The account behind a ``kid``; deactivated or revoked accounts are refused (401, §7.3.6)."""
        async with self._db.read() as tx:
            account = await acme_accounts.by_id(tx, account_id)
        if account is None or account.provisioner_id != provisioner.id:
            raise AccountDoesNotExist("no account exists with this key id")
        return self._usable(account, provisioner)

    async def account_for_key(self, thumbprint: str) -> AccountRecord | None:
        async with self._db.read() as tx:
            return await acme_accounts.by_thumbprint(tx, thumbprint)

    async def update(self, account: AccountRecord, payload: dict[str, Any]) -> AccountRecord:
        """Contact changes and deactivation; other fields are ignored as §7.3.2 requires."""
        status = payload.get("status")
        if status is not None and status != AccountStatus.DEACTIVATED.value:
            if status == account.status.value:
                status = None
            else:
                raise Malformed(f"account status may only be changed to 'deactivated', not {status!r}")
        if "contact" in payload:
            contact = check_contacts(payload.get("contact"))
            async with self._db.write() as tx:
                await acme_accounts.update_contact(tx, account.id, contact)
            account = replace(account, contact=contact)
        if status == AccountStatus.DEACTIVATED.value:
            account = await self._deactivate(account)
        return account

    async def _deactivate(self, account: AccountRecord) -> AccountRecord:
        """Deactivate and cancel open orders (SHOULD, §7.3.6); certificates stay valid (SHOULD NOT revoke)."""
        now = self._clock.now()
        error = ErrorSummary.of(Unauthorized("the account was deactivated"))
        async with self._db.write() as tx:
            if not await acme_accounts.deactivate(tx, account.id, now):
                raise AccountDeactivated("the account is not valid any more")
            await acme_orders.cancel_open_orders(tx, account.id, now, summary_json(error))
        return replace(account, status=AccountStatus.DEACTIVATED, deactivated_at=now)

    async def change_key(
        self, account: AccountRecord, *, old_thumbprint: str, new_jwk: dict[str, Any], new_thumbprint: str
    ) -> AccountRecord:
        """Replace the account key; a key held by another account is a Conflict (409 with its Location)."""
        if old_thumbprint != account.key_thumbprint:
            raise Unauthorized("oldKey does not match the account's current key")
        if new_thumbprint == account.key_thumbprint:
            raise Malformed("the new key is the same as the current key")
        async with self._db.write() as tx:
            if not await acme_accounts.change_key(
                tx, account.id, old_thumbprint=old_thumbprint, new_thumbprint=new_thumbprint, jwk=new_jwk
            ):
                raise Conflict("the account key changed concurrently; retry")
        return replace(account, key_thumbprint=new_thumbprint, jwk=new_jwk)


def summary_json(summary: ErrorSummary) -> dict[str, Any]:
    """How an error is kept on an order or challenge row, so the edge can render it later."""
    return {"kind": summary.kind, "detail": summary.detail, "subproblems": [list(s) for s in summary.subproblems]}


def summary_from_json(value: dict[str, Any]) -> ErrorSummary:
    subs: Sequence[Sequence[Any]] = value.get("subproblems") or ()
    return ErrorSummary(
        kind=str(value.get("kind", CAError.kind)), detail=str(value.get("detail", "")),
        subproblems=tuple((str(s[0]), str(s[1]), s[2], s[3]) for s in subs),
    )
