"""A lean ACME client for load generation: one account per worker, full http-01 order flows, P-256 keys.

Written against RFC 8555 only (no server-specific shortcuts) so the same code drives acmeca and Pebble and
the comparison is fair. Each step's latency is recorded under a fixed name. Polling behaves as lego,
certbot and Go's x/crypto/acme do: a reply that is not final is followed by a wait of its ``Retry-After``
(seconds or an HTTP date), or of ``POLL_INTERVAL`` when it has none, so each server's hint counts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

JOSE = "application/jose+json"
POLL_INTERVAL = 0.1  # when a reply that is not final carries no Retry-After
POLL_LIMIT = 30.0


class FlowError(Exception):
    """An ACME step answered something other than what a correct flow expects."""


def retry_after(headers: Any) -> float:
    """Seconds to wait before the next poll: the reply's Retry-After, else ``POLL_INTERVAL``."""
    value = headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return POLL_INTERVAL


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Timings:
    """Latency samples per step name, in seconds."""

    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, step: str, seconds: float) -> None:
        self.samples[step].append(seconds)


class Account:
    """A P-256 account key with its JWK and thumbprint."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "crv": "P-256",
            "kty": "EC",
            "x": b64(numbers.x.to_bytes(32, "big")),
            "y": b64(numbers.y.to_bytes(32, "big")),
        }
        canonical = json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()
        self.thumbprint = b64(hashlib.sha256(canonical).digest())
        self.url: str | None = None

    def sign(self, protected: dict[str, Any], payload: Any) -> bytes:
        header = b64(json.dumps(protected).encode())
        body = "" if payload is None else b64(json.dumps(payload).encode())
        r, s = decode_dss_signature(self.key.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
        signature = b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return json.dumps({"protected": header, "payload": body, "signature": signature}).encode()


class Client:
    """One worker's connection to one ACME server; keeps its nonce between requests."""

    def __init__(self, session: aiohttp.ClientSession, directory_url: str, tls: ssl.SSLContext, timings: Timings):
        self.session = session
        self.directory_url = directory_url
        self.tls = tls
        self.timings = timings
        self.directory: dict[str, Any] = {}
        self.nonce: str | None = None
        self.account = Account()

    async def start(self) -> None:
        async with self.session.get(self.directory_url, ssl=self.tls) as response:
            self.directory = await response.json()
        started = time.perf_counter()
        _, _, headers = await self.post(self.directory["newAccount"], {"termsOfServiceAgreed": True}, jwk=True)
        self.timings.add("newAccount", time.perf_counter() - started)
        self.account.url = headers["Location"]

    async def _fresh_nonce(self) -> str:
        async with self.session.head(self.directory["newNonce"], ssl=self.tls) as response:
            return response.headers["Replay-Nonce"]

    async def post(self, url: str, payload: Any, *, jwk: bool = False) -> tuple[Any, bytes, Any]:
        """POST a JWS; one retry on badNonce with the nonce from the error, as RFC 8555 §6.5 asks."""
        for _ in range(3):
            nonce = self.nonce or await self._fresh_nonce()
            self.nonce = None
            protected: dict[str, Any] = {"alg": "ES256", "nonce": nonce, "url": url}
            protected.update({"jwk": self.account.jwk} if jwk else {"kid": self.account.url})
            data = self.account.sign(protected, payload)
            async with self.session.post(url, data=data, headers={"Content-Type": JOSE}, ssl=self.tls) as response:
                body = await response.read()
                self.nonce = response.headers.get("Replay-Nonce")
                if response.status < 400:
                    parsed = json.loads(body) if response.content_type.endswith("json") and body else None
                    return parsed, body, response.headers
                problem = body.decode(errors="replace")
                if "badNonce" not in problem:
                    raise FlowError(f"POST {url}: {response.status} {problem[:300]}")
        raise FlowError(f"POST {url}: badNonce three times")

    async def timed(self, step: str, url: str, payload: Any) -> tuple[Any, bytes, Any]:
        started = time.perf_counter()
        try:
            return await self.post(url, payload)
        finally:
            self.timings.add(step, time.perf_counter() - started)

    async def poll(self, step: str, url: str, done: str, after: tuple[Any, Any]) -> dict[str, Any]:
        """Poll ``url`` until ``done``, starting from ``after`` (the reply that started the wait, and its headers)."""
        started = time.perf_counter()
        deadline = started + POLL_LIMIT
        resource, headers = after
        while resource.get("status") not in (done, "invalid"):
            await asyncio.sleep(retry_after(headers))
            resource, _, headers = await self.post(url, None)
            if time.perf_counter() > deadline:
                break
        if resource.get("status") != done:
            raise FlowError(f"{url} is {resource.get('status')}: {json.dumps(resource)[:400]}")
        self.timings.add(step, time.perf_counter() - started)
        return dict(resource)

    async def order_flow(self, name: str, tokens: dict[str, str]) -> None:
        """newOrder → authz → challenge (http-01) → valid → finalize → valid → certificate."""
        started = time.perf_counter()
        order, _, headers = await self.timed(
            "newOrder", self.directory["newOrder"], {"identifiers": [{"type": "dns", "value": name}]}
        )
        order_url = headers["Location"]
        for authz_url in order["authorizations"]:
            authz, _, _ = await self.timed("authz", authz_url, None)
            challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
            tokens[challenge["token"]] = f"{challenge['token']}.{self.account.thumbprint}"
            challenged, _, headers = await self.timed("challenge", challenge["url"], {})
            await self.poll("validation", authz_url, "valid", (challenged, headers))
            tokens.pop(challenge["token"], None)
        finalized, _, headers = await self.timed("finalize", order["finalize"], {"csr": b64(make_csr(name))})
        order = await self.poll("issuance", order_url, "valid", (finalized, headers))
        _, pem, _ = await self.timed("certificate", order["certificate"], None)
        if b"BEGIN CERTIFICATE" not in pem:
            raise FlowError("certificate download returned no PEM")
        self.timings.add("order (total)", time.perf_counter() - started)


def make_csr(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)
