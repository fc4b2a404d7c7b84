"""Anti-replay nonces that every replica can verify and none can accept twice.

A nonce is ``random(16) || expiry(8) || HMAC-SHA256(key, random || expiry)[:16]`` in base64url. The key is
kept in the database, so a nonce issued by one process verifies in any other sharing the database, and
issuing costs no write. Redeeming inserts the nonce into ``used_nonces`` (primary key), and a replay fails
wherever it arrives. Spent nonces are swept once they have expired anyway.

Redemptions that arrive together share one write transaction (group commit): each request still waits
until its own nonce is durably spent, but a burst of polling clients costs SQLite one write lock instead of
one per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta

from acmeca import metrics
from acmeca.domain.clock import Clock
from acmeca.domain.encoding import b64url_decode, b64url_encode
from acmeca.domain.errors import BadNonce, ServiceUnavailable
from acmeca.store import nonces as store
from acmeca.store.database import Database

log = logging.getLogger(__name__)
SECRET_SETTING = "acme.nonce_hmac_key"
SWEEP_SECONDS = 600.0
_RANDOM = 16
_EXPIRY = 8
_MAC = 16
_LENGTH = _RANDOM + _EXPIRY + _MAC


def new_secret() -> str:
    """A fresh HMAC key as stored under SECRET_SETTING; replacing it refuses every nonce issued before."""
    return b64url_encode(secrets.token_bytes(32))


class NonceService:
    def __init__(self, db: Database, clock: Clock, *, lifetime: timedelta = timedelta(hours=1)) -> None:
        self._db = db
        self._clock = clock
        self._lifetime = lifetime
        self._key: bytes | None = None
        self._queue: list[tuple[str, datetime, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def _secret(self) -> bytes:
        """The shared HMAC key; created by whichever replica starts first, then cached (it never changes)."""
        if self._key is None:
            async with self._db.write() as tx:
                stored = await store.ensure_setting(tx, SECRET_SETTING, new_secret())
            self._key = b64url_decode(stored)
        return self._key

    async def issue(self) -> str:
        key = await self._secret()
        expiry = int((self._clock.now() + self._lifetime).timestamp())
        body = secrets.token_bytes(_RANDOM) + expiry.to_bytes(_EXPIRY, "big")
        return b64url_encode(body + hmac.new(key, body, hashlib.sha256).digest()[:_MAC])

    async def redeem(self, nonce: object) -> None:
        """Spend ``nonce`` or raise BadNonce; forged and expired nonces never reach the database."""
        try:
            await self._redeem(nonce)
        except BadNonce:
            metrics.NONCE_REJECTIONS.inc()
            raise

    async def _redeem(self, nonce: object) -> None:
        if not isinstance(nonce, str) or not nonce:
            raise BadNonce("the JWS header has no nonce")
        raw = _decode(nonce)
        key = await self._secret()
        body, mac = raw[: _RANDOM + _EXPIRY], raw[_RANDOM + _EXPIRY :]
        if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()[:_MAC]):
            raise BadNonce("the nonce was not issued by this CA")
        expires_at = datetime.fromtimestamp(int.from_bytes(body[_RANDOM:], "big"), UTC)
        if expires_at <= self._clock.now():
            raise BadNonce("the nonce has expired")
        if not await self._spend(nonce, expires_at):
            raise BadNonce("the nonce was already used")

    async def _spend(self, nonce: str, expires_at: datetime) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((nonce, expires_at, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="acme-nonce-flush")
        return await future

    async def _flush(self) -> None:
        """Spend every queued nonce, one transaction per batch, until the queue stays empty."""
        await asyncio.sleep(0)  # let requests that are already runnable join this batch
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                async with self._db.write_one() as tx:
                    spent = await store.spend_all(tx, [(nonce, expires) for nonce, expires, _ in batch])
            except Exception as exc:  # every waiter sees the failure (503 for an unavailable database)
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), ok in zip(batch, spent, strict=True):
                if not future.done():
                    future.set_result(ok)

    async def sweep(self) -> int:
        async with self._db.write() as tx:
            return await store.sweep(tx, self._clock.now())

    async def sweep_forever(self, interval: float = SWEEP_SECONDS) -> None:
        """Sweep spent nonces every ``interval``; a sweep missed in a database outage waits for the next."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except ServiceUnavailable:
                log.debug("nonce sweep skipped: the database is unavailable")


def _decode(nonce: str) -> bytes:
    if "=" in nonce or len(nonce) != len(b64url_encode(bytes(_LENGTH))):
        raise BadNonce("the nonce is malformed")
    try:
        return b64url_decode(nonce)
    except ValueError:
        raise BadNonce("the nonce is malformed") from None
