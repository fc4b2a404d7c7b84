"""A lean ACME client for load generation, behaving like the real ones: full http-01 order flows, P-256 keys.

Written against RFC 8555 only (no server-specific shortcuts), so the same code drives acmeca, Pebble and
step-ca. Like lego and golang.org/x/crypto/acme, it treats a challenge answer that is already ``valid`` and a
finalize answer that is already ``valid`` as done, and otherwise polls, pausing before each poll for the
``Retry-After`` of the previous answer (100 ms without one, see bench.pacing). Each simulated client has its
own account and its own aiohttp session with one keep-alive TLS connection, as one real client would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from bench.pacing import poll_delay

JOSE = "application/jose+json"
POLL_LIMIT = 60.0  # seconds one resource may stay pending before the flow fails
REQUEST_TIMEOUT = 30.0


class FlowError(Exception):
    """An ACME step answered something other than what a correct flow expects."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def one_connection_session(tls: ssl.SSLContext) -> aiohttp.ClientSession:
    """One client's HTTP stack: a single keep-alive connection to the server (limit_per_host=1)."""
    connector = aiohttp.TCPConnector(limit_per_host=1, ssl=tls)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))


@dataclass
class Counters:
    """What one phase of a run observed, shared by its clients."""

    requests: int = 0
    flows: list[float] = field(default_factory=list)  # seconds per completed flow
    errors: list[str] = field(default_factory=list)


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
    """One simulated ACME client: its account, its connection, its nonce between requests."""

    def __init__(self, directory_url: str, tls: ssl.SSLContext, tokens: dict[str, str]):
        self.session = one_connection_session(tls)
        self.directory_url = directory_url
        self.tokens = tokens  # token -> key authorization, served by the shared http-01 responder
        self.counters = Counters()
        self.directory: dict[str, Any] = {}
        self.nonce: str | None = None
        self.account = Account()

    async def close(self) -> None:
        await self.session.close()

    async def start(self) -> None:
        self.counters.requests += 1
        async with self.session.get(self.directory_url) as response:
            self.directory = await response.json()
        _, _, headers = await self.post(self.directory["newAccount"], {"termsOfServiceAgreed": True}, jwk=True)
        self.account.url = headers["Location"]

    async def _fresh_nonce(self) -> str:
        self.counters.requests += 1
        async with self.session.head(self.directory["newNonce"]) as response:
            return response.headers["Replay-Nonce"]

    async def post(self, url: str, payload: Any, *, jwk: bool = False) -> tuple[Any, bytes, Any]:
        """POST a JWS; retried (at most twice) on badNonce with the nonce from the error, as RFC 8555 §6.5 asks."""
        for _ in range(3):
            nonce = self.nonce or await self._fresh_nonce()
            self.nonce = None
            protected: dict[str, Any] = {"alg": "ES256", "nonce": nonce, "url": url}
            protected.update({"jwk": self.account.jwk} if jwk else {"kid": self.account.url})
            data = self.account.sign(protected, payload)
            self.counters.requests += 1
            async with self.session.post(url, data=data, headers={"Content-Type": JOSE}) as response:
                body = await response.read()
                self.nonce = response.headers.get("Replay-Nonce")
                if response.status < 400:
                    parsed = json.loads(body) if response.content_type.endswith("json") and body else None
                    return parsed, body, response.headers
                problem = body.decode(errors="replace")
                if "badNonce" not in problem:
                    raise FlowError(f"POST {url}: {response.status} {problem[:300]}")
        raise FlowError(f"POST {url}: badNonce three times")

    async def wait_for(self, url: str, done: str, retry_after: str | None) -> dict[str, Any]:
        """Poll ``url`` (POST-as-GET) until its status is ``done``, pausing for each answer's Retry-After."""
        deadline = time.monotonic() + POLL_LIMIT
        while True:
            await asyncio.sleep(poll_delay(retry_after))
            resource, _, headers = await self.post(url, None)
            status = resource.get("status")
            if status == done:
                return dict(resource)
            if status == "invalid" or time.monotonic() > deadline:
                raise FlowError(f"{url} is {status}: {json.dumps(resource)[:400]}")
            retry_after = headers.get("Retry-After")

    async def order_flow(self, name: str) -> None:
        """newOrder → authz → challenge (http-01) → [poll authz] → finalize → [poll order] → certificate."""
        started = time.perf_counter()
        order, _, headers = await self.post(
            self.directory["newOrder"], {"identifiers": [{"type": "dns", "value": name}]}
        )
        order_url = headers["Location"]
        for authz_url in order["authorizations"]:
            authz, _, _ = await self.post(authz_url, None)
            challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
            self.tokens[challenge["token"]] = f"{challenge['token']}.{self.account.thumbprint}"
            try:
                answer, _, headers = await self.post(challenge["url"], {})
                if answer.get("status") != "valid":
                    await self.wait_for(authz_url, "valid", headers.get("Retry-After"))
            finally:
                self.tokens.pop(challenge["token"], None)
        order, _, headers = await self.post(order["finalize"], {"csr": b64(make_csr(name))})
        if order.get("status") != "valid":
            order = await self.wait_for(order_url, "valid", headers.get("Retry-After"))
        _, pem, _ = await self.post(order["certificate"], None)
        if b"BEGIN CERTIFICATE" not in pem:
            raise FlowError("certificate download returned no PEM")
        self.counters.flows.append(time.perf_counter() - started)


def make_csr(name: str, encoding: serialization.Encoding = serialization.Encoding.DER) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(encoding)
