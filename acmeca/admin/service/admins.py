"""Admins CRUD (``/admin/admins``): SUPER_ADMIN only for writes; the last super admin cannot be removed."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from typing import Any

from acmeca.admin.service import linkedca_schema as schema
from acmeca.admin.service.auth import AdminIdentity, require_super
from acmeca.admin.service.linkedca import AUTHORITY_ID
from acmeca.domain.clock import Clock
from acmeca.domain.errors import Conflict, Malformed
from acmeca.domain.management import AdminRecord, AdminType
from acmeca.domain.status import ProvisionerType
from acmeca.engine.catalog import ProvisionerCatalog
from acmeca.logs import audit, audit_admin
from acmeca.store import admins
from acmeca.store.database import Database

_TYPES = {1: AdminType.ADMIN, 2: AdminType.SUPER_ADMIN, "ADMIN": AdminType.ADMIN, "SUPER_ADMIN": AdminType.SUPER_ADMIN}


def admin_type(value: Any) -> AdminType:
    """linkedca's numeric (1 ADMIN, 2 SUPER_ADMIN) or named role."""
    found = _TYPES.get(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    if found is None:
        raise Malformed(f"admin type {value!r} is not valid (use 1/ADMIN or 2/SUPER_ADMIN)")
    return found


def _fields(admin: AdminRecord) -> dict[str, Any]:
    return {
        "id": admin.id, "authorityId": AUTHORITY_ID, "subject": admin.subject, "provisionerId": admin.provisioner_id,
        "type": admin.type.value, "createdAt": admin.created_at,
    }


def admin_json(admin: AdminRecord) -> dict[str, Any]:
    """linkedca ``Admin`` as protojson writes it (step decodes it strictly: nothing linkedca lacks)."""
    return schema.encode("Admin", _fields(admin))


def admin_list_json(admin: AdminRecord) -> dict[str, Any]:
    """[quirk] upstream lists admins with Go's encoding/json over the proto struct: snake_case keys, a numeric
    type and a Timestamp object. step's CLI decodes exactly that, so the list keeps it."""
    return schema.encode("Admin", _fields(admin), go=True)


class AdminService:
    def __init__(self, db: Database, catalog: ProvisionerCatalog, clock: Clock) -> None:
        self._db = db
        self._catalog = catalog
        self._clock = clock

    async def ensure_first_admin(self, subject: str) -> None:
        """With no admin at all, make ``subject`` a SUPER_ADMIN of the first JWK provisioner, as step-ca does on
        its first start with remote management.

        ``init --remote-management`` stores the first admin; the composition root also calls this at every
        start, so a CA migrated from ca.json, or whose admins are gone from the database, still gets one.
        """
        if await self.count() != 0:
            return
        jwk = next((e for e in await self._catalog.all() if e.type is ProvisionerType.JWK), None)
        if jwk is None:
            return
        # A deterministic id: replicas bootstrapping at the same moment insert the same row once.
        first_id = hashlib.sha256(f"first-admin/{jwk.id}/{subject}".encode()).hexdigest()[:32]
        record = AdminRecord(
            id=first_id, subject=subject, provisioner_id=jwk.id, type=AdminType.SUPER_ADMIN,
            created_at=self._clock.now(),
        )
        with contextlib.suppress(Conflict):  # another replica won: its row is the same one
            await self.add_first(record)
            audit("admin.admin_created", "admin created", requester_kind="ca", requester_id="acmeca",
                  provisioner=jwk.name, target=subject, role="SUPER_ADMIN")

    async def page(self, cursor: str = "", limit: int = 100) -> tuple[list[dict[str, Any]], str]:
        async with self._db.read() as tx:
            live = await admins.live(tx)
        found = [a for a in live if a.id > cursor] if cursor else live
        found.sort(key=lambda a: a.id)
        page = found[:limit]
        next_cursor = page[-1].id if len(found) > limit else ""
        return [admin_list_json(a) for a in page], next_cursor

    async def count(self) -> int:
        async with self._db.read() as tx:
            return await admins.count(tx)

    async def add_first(self, record: AdminRecord) -> None:
        """The bootstrap admin, made by the CA itself (no caller to check); Conflict when the row exists."""
        async with self._db.write() as tx:
            await admins.create(tx, record)

    async def get(self, admin_id: str) -> dict[str, Any]:
        async with self._db.read() as tx:
            record = await admins.get(tx, admin_id)
        return admin_json(record)

    async def create(self, caller: AdminIdentity, body: dict[str, Any]) -> dict[str, Any]:
        require_super(caller)
        schema.only(body, ("subject", "provisioner", "type"), "creating an admin")
        subject = body.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            raise Malformed("admin subject cannot be empty")
        provisioner_name = body.get("provisioner")
        if not isinstance(provisioner_name, str) or not provisioner_name:
            raise Malformed("admin provisioner cannot be empty")
        provisioner = await self._catalog.by_name(provisioner_name)
        record = AdminRecord(
            id=secrets.token_hex(16), subject=subject.strip(), provisioner_id=provisioner.id,
            type=admin_type(body.get("type", 1)), created_at=self._clock.now(),
        )
        async with self._db.write() as tx:
            await admins.create(tx, record)
        audit_admin("admin_created", "admin created", admin=caller.subject, provisioner=provisioner.name,
                    target=record.subject, role=record.type.value)
        return admin_json(record)

    async def update(self, caller: AdminIdentity, admin_id: str, body: dict[str, Any]) -> dict[str, Any]:
        require_super(caller)
        schema.only(body, ("type",), "updating an admin")
        new_type = admin_type(body.get("type"))
        async with self._db.write() as tx:
            record = await admins.update_type(tx, admin_id, new_type)
        audit_admin("admin_updated", "admin updated", admin=caller.subject, target=record.subject,
                    role=record.type.value)
        return admin_json(record)

    async def delete(self, caller: AdminIdentity, admin_id: str) -> None:
        require_super(caller)
        async with self._db.write() as tx:
            record = await admins.delete(tx, admin_id, at=self._clock.now())
        audit_admin("admin_deleted", "admin deleted", admin=caller.subject, target=record.subject)
