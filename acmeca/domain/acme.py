"""ACME records: accounts, orders, authorizations, challenges and External Account Binding keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from acmeca.domain.identifiers import Identifier
from acmeca.domain.status import AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, OrderStatus


@dataclass(frozen=True)
class AccountRecord:
    id: str
    provisioner_id: str
    key_thumbprint: str
    jwk: dict[str, Any]
    status: AccountStatus
    contact: tuple[str, ...]
    tos_agreed: bool
    created_at: datetime
    eab_key_id: str | None = None
    eab_binding: dict[str, Any] | None = None
    created_ip: str | None = None
    deactivated_at: datetime | None = None


@dataclass(frozen=True)
class ChallengeRecord:
    id: str
    authz_id: str
    type: ChallengeType
    token: str
    status: ChallengeStatus
    key_authorization: str | None = None
    validated_at: datetime | None = None
    error: dict[str, Any] | None = None
    validation_record: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class AuthorizationRecord:
    id: str
    account_id: str
    provisioner_id: str
    identifier: Identifier
    wildcard: bool
    status: AuthorizationStatus
    expires_at: datetime
    created_at: datetime
    validated_at: datetime | None = None
    challenges: tuple[ChallengeRecord, ...] = ()


@dataclass(frozen=True)
class OrderRecord:
    id: str
    account_id: str
    provisioner_id: str
    status: OrderStatus
    identifiers: tuple[Identifier, ...]
    profile: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    authz_ids: tuple[str, ...] = ()
    not_before: datetime | None = None
    not_after: datetime | None = None
    replaces: str | None = None
    error: dict[str, Any] | None = None
    certificate_serial: str | None = None


@dataclass(frozen=True)
class EabKeyRecord:
    """An External Account Binding HMAC key (RFC 8555 §7.3.4); it binds exactly one account."""

    id: str
    provisioner_id: str
    reference: str | None
    hmac_key: bytes
    created_at: datetime
    account_id: str | None = None
    bound_at: datetime | None = None
