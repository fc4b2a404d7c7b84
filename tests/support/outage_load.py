"""Load for the database outage tests: `/1.0/sign` and ACME newOrder in loops, every reply recorded.

Tokens are minted with jwcrypto from the provisioner key in ca.json (as tests/integration/step/test_wire.py
does), so the load needs no CLI process per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto import jwa, jwe, jwk, jws

from tests.support.acme_client import AcmeClient
from tests.support.ca_server import PASSWORD, CAServer

jwa.default_max_pbkdf2_iterations = 1_000_000  # step-ca's p2c is 600000, above jwcrypto's default cap
OUTAGE_TEXT = "the database is unavailable"


@dataclass(frozen=True)
class Outcome:
    at: float  # time.monotonic() when the reply arrived
    kind: str  # "sign", "acme", "ready" (GET /health) or "live" (GET /health?probe=live)
    status: int
    retry_after: str | None
    body: dict[str, Any]


@dataclass
class Minter:
    server: CAServer
    key: jwk.JWK
    kid: str

    @classmethod
    def of(cls, server: CAServer) -> Minter:
        document = next(p for p in server.config()["authority"]["provisioners"] if p["type"] == "JWK")
        token = jwe.JWE()
        token.deserialize(document["encryptedKey"], key=jwk.JWK.from_password(PASSWORD))
        return cls(server, jwk.JWK(**json.loads(token.payload)), document["key"]["kid"])

    def sign_body(self, subject: str) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": "admin", "aud": f"https://localhost:{self.server.port}/1.0/sign", "sub": subject,
            "sans": [subject], "nbf": now, "iat": now, "exp": now + 300, "jti": secrets.token_hex(16),
            "sha": self.server.fingerprint(),
        }
        token = jws.JWS(json.dumps(claims).encode())
        protected = {"alg": "ES256", "kid": self.kid, "typ": "JWT"}
        token.add_signature(self.key, alg="ES256", protected=json.dumps(protected))
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        pem = csr.public_bytes(serialization.Encoding.PEM).decode()
        return {"csr": pem, "ott": token.serialize(compact=True), "notAfter": "1h"}


@dataclass
class Load:
    """Clients hammering one server until ``stop``; ``outcomes`` holds every reply in arrival order."""

    server: CAServer
    session: aiohttp.ClientSession
    tls: ssl.SSLContext
    outcomes: list[Outcome] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def record(self, kind: str, status: int, headers: Any, body: bytes) -> None:
        try:
            document = json.loads(body) if body else {}
        except ValueError:
            document = {"raw": body.decode(errors="replace")}
        self.outcomes.append(Outcome(time.monotonic(), kind, status, headers.get("Retry-After"), document))

    def run(self, name: str, step: Callable[[], Awaitable[None]], pause: float) -> None:
        async def loop() -> None:
            while not self._stopping.is_set():
                await step()
                await asyncio.sleep(pause)

        self._tasks.append(asyncio.create_task(loop(), name=name))

    def sign_requests(self, minter: Minter, workers: int) -> None:
        counter = iter(range(1_000_000))

        async def step() -> None:
            body = minter.sign_body(f"load{next(counter)}.local")
            async with self.session.post(f"{self.server.url}/1.0/sign", json=body, ssl=self.tls) as reply:
                self.record("sign", reply.status, reply.headers, await reply.read())

        for n in range(workers):
            self.run(f"sign-{n}", step, 0.01)

    def acme_orders(self, client: AcmeClient) -> None:
        counter = iter(range(1_000_000))

        async def step() -> None:
            reply = await client.new_order([{"type": "dns", "value": f"order{next(counter)}.local"}])
            self.record("acme", reply.status, reply.headers, reply.body)

        self.run("acme", step, 0.01)

    def health_probes(self) -> None:
        async def step() -> None:
            for kind, query in (("ready", ""), ("live", "?probe=live")):
                async with self.session.get(f"{self.server.url}/health{query}", ssl=self.tls) as reply:
                    self.record(kind, reply.status, reply.headers, await reply.read())

        self.run("health", step, 0.1)

    async def until(self, predicate: Callable[[list[Outcome]], bool], *, patience: float) -> None:
        deadline = time.monotonic() + patience
        while not predicate(self.outcomes):
            if time.monotonic() > deadline:
                raise AssertionError(f"load: condition not met within {patience}s: {self.summary()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30)

    def summary(self) -> dict[tuple[str, int], int]:
        counts: dict[tuple[str, int], int] = {}
        for outcome in self.outcomes:
            counts[outcome.kind, outcome.status] = counts.get((outcome.kind, outcome.status), 0) + 1
        return counts

    def of(self, kind: str, *, after: float = 0.0, before: float = float("inf")) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind and after <= o.at < before]


def assert_outage_reply(outcome: Outcome) -> None:
    """A reply during an outage: 503 with Retry-After, saying the database is unavailable, in its door's format."""
    assert outcome.status == 503, outcome
    assert outcome.retry_after is not None, outcome
    assert int(outcome.retry_after) >= 1, outcome
    if outcome.kind == "acme":
        assert outcome.body["type"] == "urn:ietf:params:acme:error:serverInternal", outcome
        assert OUTAGE_TEXT in outcome.body["detail"], outcome
    else:
        assert outcome.body["status"] == 503, outcome
        assert OUTAGE_TEXT in outcome.body["message"], outcome


def log_lines(log: str, text: str) -> list[str]:
    return [line for line in log.splitlines() if text in line]
