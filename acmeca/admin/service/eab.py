"""ACME EAB key management (``/admin/acme/eab/{provisioner}``): upstream's open-source build answers 501.

Keys are made as step-ca makes them: a 32-character alphanumeric key id and 32 random bytes of HMAC key,
returned once, at creation; listings never carry them. Only ACME provisioners with ``requireEAB`` have keys,
as upstream enforces.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from acmeca.admin.service import linkedca_schema as schema
from acmeca.admin.service.auth import AdminIdentity
from acmeca.config import ACMEProvisionerConfig
from acmeca.domain.acme import EabKeyRecord
from acmeca.domain.clock import Clock
from acmeca.domain.encoding import b64url_encode
from acmeca.domain.errors import Conflict, Malformed, NotFound
from acmeca.domain.management import MAX_EAB_REFERENCE, PolicyScope
from acmeca.engine.catalog import ProvisionerCatalog, ProvisionerEntry
from acmeca.logs import audit_admin
from acmeca.store import eab_keys, policies
from acmeca.store.database import Database

HMAC_KEY_BYTES = 32  # step-ca's size
KEY_ID_LENGTH = 32
KEY_ID_ALPHABET = string.ascii_letters + string.digits


def new_hmac_key() -> bytes:
    """32 random bytes, as step-ca makes them, drawn again when their base64url text would start with '-'.

    Clients take the key as a command-line value (certbot ``--eab-hmac-key``, lego ``--hmac``), and their flag
    parsers read a leading '-' as a flag: certbot refused such a key in our CI. Re-drawing one value in 64 of
    the first six bits costs under 0.03 bits of the key's 256.
    """
    while True:
        key = secrets.token_bytes(HMAC_KEY_BYTES)
        if not b64url_encode(key).startswith("-"):
            return key


def new_key_id() -> str:
    """step-ca's ``randutil.Alphanumeric(32)``: safe in a URL path and never read as a command-line flag."""
    return "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))


def eab_json(key: EabKeyRecord, provisioner: str) -> dict[str, Any]:
    """A new key as upstream's POST answers: linkedca ``EABKey`` in protojson, with the HMAC key."""
    return schema.encode("EABKey", {
        "id": key.id, "hmacKey": key.hmac_key, "provisioner": provisioner, "reference": key.reference,
        "createdAt": key.created_at,
    })


def eab_list_json(key: EabKeyRecord, provisioner: str, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """[quirk] A listed key as upstream writes it: Go's encoding/json over ``linkedca.EABKey`` (snake_case,
    Timestamps as ``{"seconds", "nanos"}``), without the HMAC key. An unbound key's ``bound_at`` is Go's zero
    time, as ``timestamppb.New(time.Time{})`` makes it: step prints an empty "Bound At" only for that (it
    would print 1970-01-01 for a missing one)."""
    return schema.encode("EABKey", {
        "id": key.id, "provisioner": provisioner, "reference": key.reference, "account": key.account_id,
        "createdAt": key.created_at, "boundAt": key.bound_at or schema.GO_ZERO_TIME, "policy": policy,
    }, go=True, strict=False)


class EabKeyService:
    def __init__(self, db: Database, catalog: ProvisionerCatalog, clock: Clock) -> None:
        self._db = db
        self._catalog = catalog
        self._clock = clock

    async def provisioner(self, name: str) -> ProvisionerEntry:
        entry = await self._catalog.by_name(name)
        if not isinstance(entry.config, ACMEProvisionerConfig):
            raise Malformed(f"provisioner '{name}' is not an ACME provisioner")
        if not entry.config.require_eab:
            raise Malformed(f"ACME EAB not enabled for provisioner '{name}'")
        return entry

    async def key(self, provisioner: str, *, key_id: str | None = None, reference: str | None = None) -> EabKeyRecord:
        """A key of ``provisioner`` by id or by reference."""
        entry = await self.provisioner(provisioner)
        async with self._db.read() as tx:
            if reference is not None:
                found = await eab_keys.by_reference(tx, entry.id, reference)
            else:
                found = await eab_keys.get(tx, key_id or "")
        if found is None or found.provisioner_id != entry.id:
            raise NotFound(f"ACME EAB key {reference or key_id} not found for provisioner '{provisioner}'")
        return found

    async def page(
        self, provisioner: str, *, reference: str | None = None, cursor: str = "", limit: int = 100
    ) -> tuple[list[dict[str, Any]], str]:
        entry = await self.provisioner(provisioner)
        if reference:
            found = await self._by_reference(entry.id, reference)
            return ([await self._json(found, entry.name)] if found else []), ""
        async with self._db.read() as tx:
            keys = await eab_keys.page(tx, entry.id, cursor=cursor, limit=limit + 1)
        next_cursor = keys[limit - 1].id if len(keys) > limit else ""
        return [await self._json(k, entry.name) for k in keys[:limit]], next_cursor

    async def _json(self, key: EabKeyRecord, provisioner: str) -> dict[str, Any]:
        async with self._db.read() as tx:
            policy = await policies.find(tx, PolicyScope.EAB_KEY, key.id)
        return eab_list_json(key, provisioner, policy.document if policy else None)

    async def _by_reference(self, provisioner_id: str, reference: str) -> EabKeyRecord | None:
        async with self._db.read() as tx:
            return await eab_keys.by_reference(tx, provisioner_id, reference)

    async def add(self, caller: AdminIdentity, provisioner: str, body: dict[str, Any]) -> dict[str, Any]:
        schema.only(body, ("reference",), "creating an ACME EAB key")
        entry = await self.provisioner(provisioner)
        reference = body.get("reference") or None
        if reference is not None and (not isinstance(reference, str) or len(reference) > MAX_EAB_REFERENCE):
            raise Malformed(f"reference must be a string of at most {MAX_EAB_REFERENCE} characters")
        if reference and await self._by_reference(entry.id, reference):
            raise Conflict(
                f"an ACME EAB key for provisioner '{provisioner}' with reference '{reference}' already exists"
            )
        key = EabKeyRecord(
            id=new_key_id(), provisioner_id=entry.id, reference=reference,
            hmac_key=new_hmac_key(), created_at=self._clock.now(),
        )
        async with self._db.write() as tx:
            await eab_keys.create(tx, key)
        audit_admin("eab_key_created", "acme eab key created", admin=caller.subject, provisioner=provisioner,
                    key_id=key.id, reference=reference)
        return eab_json(key, entry.name)

    async def delete(self, caller: AdminIdentity, provisioner: str, key_id: str) -> None:
        entry = await self.provisioner(provisioner)
        async with self._db.write() as tx:
            await eab_keys.delete(tx, entry.id, key_id)
        audit_admin("eab_key_deleted", "acme eab key deleted", admin=caller.subject, provisioner=provisioner,
                    key_id=key_id)
