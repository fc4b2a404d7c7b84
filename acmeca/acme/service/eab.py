"""External Account Binding for newAccount (RFC 8555 §7.3.4; acme.md §1.7).

The binding is a flattened JWS, MAC'd (HS256/HS384/HS512) with a key the CA issued out of band, whose
payload is the account's public JWK. Checks, in order: well-formed JWS → header (MAC alg, ``kid``, ``url``
equal to the outer url, no ``nonce``) → key known, of this provisioner, not yet bound → MAC → payload key
equal to the account key (by RFC 7638 thumbprint). The key is bound to the new account inside the same
transaction that inserts the account, by a conditional UPDATE, so one key binds exactly one account.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from acmeca.crypto.jose import thumbprint
from acmeca.domain.encoding import b64url_decode
from acmeca.domain.errors import ExternalAccountRequired, Malformed, Unauthorized
from acmeca.domain.json_limits import loads_limited
from acmeca.store import eab_keys
from acmeca.store.database import Database
from acmeca.store.transaction import Transaction

MAC_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


@dataclass(frozen=True)
class VerifiedBinding:
    key_id: str
    binding: dict[str, Any]  # exactly what the client sent, echoed in the account object


def _b64url(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or "=" in value:
        raise Malformed(f"externalAccountBinding {what} must be unpadded base64url")
    try:
        return b64url_decode(value)
    except ValueError:
        raise Malformed(f"externalAccountBinding {what} is not valid base64url") from None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = loads_limited(data)
    except (ValueError, UnicodeDecodeError):
        raise Malformed(f"externalAccountBinding {what} is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"externalAccountBinding {what} must be a JSON object")
    return value


def _header(binding: dict[str, Any], url: str) -> dict[str, Any]:
    header = _json_object(_b64url(binding.get("protected"), "protected header"), "protected header")
    if not isinstance(header.get("alg"), str) or header["alg"] not in MAC_ALGORITHMS:  # a list is unhashable
        raise Malformed("externalAccountBinding must be MAC'd with HS256, HS384 or HS512")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise Malformed("externalAccountBinding must name the EAB key in kid")
    if "nonce" in header:
        raise Malformed("externalAccountBinding must not carry a nonce")
    if header.get("url") != url:
        raise Malformed("externalAccountBinding url must equal the newAccount url")
    return header


class ExternalAccountBinder:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def verify(
        self, provisioner_id: str, payload: dict[str, Any], *, account_jwk: dict[str, Any], url: str
    ) -> VerifiedBinding:
        """Raise externalAccountRequired, malformed or unauthorized; never binds (see :func:`bind`)."""
        binding = payload.get("externalAccountBinding")
        if binding is None:
            raise ExternalAccountRequired("this provisioner requires an external account binding")
        if not isinstance(binding, dict) or set(binding) - {"protected", "payload", "signature"}:
            raise Malformed("externalAccountBinding must be a flattened JWS object")
        header = _header(binding, url)
        async with self._db.read() as tx:
            key = await eab_keys.get(tx, header["kid"])
        if key is None or key.provisioner_id != provisioner_id:
            raise Unauthorized("the external account binding names an unknown key")
        if key.account_id is not None:
            raise Unauthorized("the external account binding key is already bound to another account")
        signing_input = f"{binding.get('protected')}.{binding.get('payload')}".encode("ascii", "replace")
        expected = hmac.new(key.hmac_key, signing_input, MAC_ALGORITHMS[header["alg"]]).digest()
        if not hmac.compare_digest(expected, _b64url(binding.get("signature"), "signature")):
            raise Unauthorized("the external account binding MAC does not verify")
        bound_jwk = _json_object(_b64url(binding.get("payload"), "payload"), "payload")
        try:
            same = thumbprint(bound_jwk) == thumbprint(account_jwk)
        except Exception:
            same = False
        if not same:
            raise Unauthorized("the external account binding is for a different account key")
        return VerifiedBinding(key_id=key.id, binding=dict(binding))


async def bind(tx: Transaction, verified: VerifiedBinding, account_id: str, at: datetime) -> None:
    """Bind inside the account-creating transaction; a lost race raises and rolls the account back."""
    if not await eab_keys.bind(tx, verified.key_id, account_id, at):
        raise Unauthorized("the external account binding key is already bound to another account")
