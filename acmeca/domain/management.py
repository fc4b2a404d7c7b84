"""Remote-management records: administrators, provisioners and issuance policies kept in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

MAX_EAB_REFERENCE = 256  # characters in an EAB key's reference, the name an operator finds it by


class AdminType(StrEnum):
    ADMIN = "ADMIN"
    SUPER_ADMIN = "SUPER_ADMIN"


@dataclass(frozen=True)
class AdminRecord:
    id: str
    subject: str
    provisioner_id: str
    type: AdminType
    created_at: datetime


@dataclass(frozen=True)
class StoredProvisioner:
    """A provisioner kept in the database: created through the admin API or ``init --remote-management``, or
    imported from ca.json on the first start with remote management."""

    id: str
    name: str
    type: str
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class PolicyScope(StrEnum):
    AUTHORITY = "authority"
    PROVISIONER = "provisioner"
    EAB_KEY = "eab_key"


@dataclass(frozen=True)
class StoredPolicy:
    """An issuance policy document (linkedca spelling) at one level: (scope, scope_id)."""

    scope: PolicyScope
    scope_id: str
    document: dict[str, Any]
    updated_at: datetime
