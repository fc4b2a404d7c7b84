"""The CLI as an ACME client (RFC 8555), for ``acmeca certificate`` with an ACME provisioner or ``--acme``.

One run is one flow: a fresh ES256 account key → newAccount → newOrder (dns and RFC 8738 ip identifiers) →
http-01 for every pending authorization through a :class:`ChallengeSolver` → poll (honouring Retry-After,
bounded) → finalize with the caller's CSR → download the PEM chain. Requests are flattened JWS built here
(§6.2): the protected header carries alg, nonce, url and either the account ``jwk`` (newAccount) or ``kid``.
Every failure is a :class:`CLIError` with one line naming what was refused and the server's problem detail.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from acmeca.cli.client import transport_errors
from acmeca.cli.errors import CLIError
from acmeca.crypto import certs
from acmeca.crypto.keys import KeySpec, PrivateKey, generate_key
from acmeca.domain.durations import parse_time_or_duration
from acmeca.domain.encoding import b64url_encode
from acmeca.domain.errors import Malformed

JOSE = "application/jose+json"
PEM_CHAIN = "application/pem-certificate-chain"
BAD_NONCE = "urn:ietf:params:acme:error:badNonce"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
DEFAULT_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = 10.0
POLL_TIMEOUT = 120.0
NONCE_RETRIES = 3
AUTHZ_SETTLED = frozenset({"valid", "invalid", "deactivated", "expired", "revoked"})
ORDER_SETTLED = frozenset({"ready", "valid", "invalid"})


class ChallengeSolver(Protocol):
    """Makes ``/.well-known/acme-challenge/{token}`` answer ``key_authorization`` (standalone or webroot)."""

    async def present(self, token: str, key_authorization: str) -> None: ...

    async def remove(self, token: str) -> None: ...


@dataclass(frozen=True)
class OrderRequest:
    """What to ask for: identifiers as ``(type, value)``, the CSR (DER) and the optional order fields."""

    identifiers: tuple[tuple[str, str], ...]
    csr_der: bytes
    contact: tuple[str, ...] = ()
    not_before: str | None = None
    not_after: str | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def document(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class AccountKey:
    """An ES256 account key and the JWS pieces it yields."""

    def __init__(self, private: PrivateKey | None = None) -> None:
        self._private = private or generate_key(KeySpec("EC", "P-256"))
        self._jwk = JWKEC(key=self._private)

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self._jwk.public_key().to_partial_json())

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint, as key authorizations use it (RFC 8555 §8.1)."""
        return b64url_encode(self._jwk.thumbprint())

    def sign(self, payload: dict[str, Any] | None, *, url: str, nonce: str, kid: str | None) -> dict[str, str]:
        """A flattened JWS (§6.2); ``payload=None`` is POST-as-GET (empty payload)."""
        protected: dict[str, Any] = {"alg": "ES256", "nonce": nonce, "url": url}
        if kid:
            protected["kid"] = kid
        else:
            protected["jwk"] = self.public_jwk
        protected_b64 = b64url_encode(json.dumps(protected).encode())
        payload_b64 = "" if payload is None else b64url_encode(json.dumps(payload).encode())
        signature = ES256.sign(self._private, f"{protected_b64}.{payload_b64}".encode("ascii"))
        return {"protected": protected_b64, "payload": payload_b64, "signature": b64url_encode(signature)}


def problem_detail(document: Mapping[str, Any]) -> str:
    """A problem document's detail (with its subproblems), else its type, else a placeholder."""
    detail = str(document.get("detail") or document.get("type") or "no detail given")
    subproblems = document.get("subproblems")
    if isinstance(subproblems, list):
        extra = [str(p.get("detail")) for p in subproblems if isinstance(p, dict) and p.get("detail")]
        if extra:
            detail += f" ({'; '.join(extra)})"
    return detail


def retry_after(value: str | None, *, now: datetime | None = None) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), within 0..MAX_RETRY_AFTER."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def order_time(value: str | None, *, now: datetime) -> str | None:
    """``--not-before``/``--not-after`` (RFC 3339 time or duration from now) as the order's RFC 3339 field."""
    if not value:
        return None
    try:
        when = parse_time_or_duration(value, now=now)
    except Malformed as exc:
        raise CLIError(exc.detail) from None
    except OverflowError:
        raise CLIError(f"{value!r} is out of range") from None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class AcmeClient:
    """One account's conversation with one ACME server: directory, nonces, signed POSTs."""

    session: aiohttp.ClientSession
    directory_url: str
    key: AccountKey = field(default_factory=AccountKey)
    kid: str | None = None
    _directory: dict[str, Any] = field(default_factory=dict)
    _nonce: str | None = None

    async def _send(self, method: str, url: str, *, data: bytes | None = None,
                    headers: dict[str, str] | None = None) -> Reply:
        with transport_errors(f"the ACME server at {url}", url):
            async with self.session.request(method, url, data=data, headers=headers) as response:
                reply = Reply(response.status, response.headers, await response.read())
        self._nonce = reply.headers.get("Replay-Nonce") or self._nonce
        return reply

    async def directory(self) -> dict[str, Any]:
        if not self._directory:
            reply = await self._send("GET", self.directory_url)
            document = reply.document()
            if reply.status != 200 or not isinstance(document.get("newNonce"), str):
                raise CLIError(f"{self.directory_url} is not an ACME directory (status {reply.status})")
            self._directory = document
        return self._directory

    async def _fresh_nonce(self) -> str:
        if self._nonce is None:
            await self._send("HEAD", str((await self.directory())["newNonce"]))
        nonce, self._nonce = self._nonce, None
        if not nonce:
            raise CLIError("the ACME server gave no Replay-Nonce")
        return nonce

    async def post(self, url: str, payload: dict[str, Any] | None, *, refused: str,
                   accept: str | None = None) -> Reply:
        """A signed POST (``payload=None``: POST-as-GET); a badNonce is retried, other errors raise."""
        headers = {"Content-Type": JOSE, **({"Accept": accept} if accept else {})}
        for _ in range(NONCE_RETRIES):
            body = self.key.sign(payload, url=url, nonce=await self._fresh_nonce(), kid=self.kid)
            reply = await self._send("POST", url, data=json.dumps(body).encode(), headers=headers)
            if reply.status < 400:
                return reply
            if reply.document().get("type") != BAD_NONCE:
                break
        detail = problem_detail(reply.document()) if reply.document() else f"status {reply.status}"
        raise CLIError(f"{refused}: {detail}")

    async def new_account(self, contact: tuple[str, ...]) -> None:
        payload: dict[str, Any] = {"termsOfServiceAgreed": True}
        if contact:
            payload["contact"] = list(contact)
        reply = await self.post(str((await self.directory())["newAccount"]), payload,
                                refused="the ACME server refused the new account")
        self.kid = reply.headers.get("Location")
        if not self.kid:
            raise CLIError("the ACME server created an account without a Location")

    async def new_order(self, request: OrderRequest) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"identifiers": [{"type": t, "value": v} for t, v in request.identifiers]}
        if request.not_before:
            payload["notBefore"] = request.not_before
        if request.not_after:
            payload["notAfter"] = request.not_after
        reply = await self.post(str((await self.directory())["newOrder"]), payload,
                                refused="the ACME server refused the new order")
        location = reply.headers.get("Location")
        if not location:
            raise CLIError("the ACME server created an order without a Location")
        return location, reply.document()

    async def poll(self, url: str, *, until: frozenset[str], what: str, deadline: float) -> dict[str, Any]:
        """POST-as-GET ``url`` until its status is in ``until``, waiting Retry-After (default 1 s) between."""
        loop = asyncio.get_running_loop()
        while True:
            reply = await self.post(url, None, refused=f"cannot read the {what}")
            document = reply.document()
            if document.get("status") in until:
                return document
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise CLIError(f"timed out waiting for the {what} (still {document.get('status')!r})")
            await asyncio.sleep(min(retry_after(reply.headers.get("Retry-After")), remaining))

    async def download(self, url: str) -> bytes:
        reply = await self.post(url, None, refused="cannot download the certificate", accept=PEM_CHAIN)
        try:
            certs.load_pem_bundle(reply.body, source="the downloaded chain")
        except ValueError as exc:
            raise CLIError(f"the ACME server sent an unreadable certificate chain: {exc}") from None
        return reply.body


def _http01(authz: dict[str, Any]) -> dict[str, Any]:
    name = (authz.get("identifier") or {}).get("value", "?")
    for challenge in authz.get("challenges") or []:
        if isinstance(challenge, dict) and challenge.get("type") == "http-01":
            return challenge
    raise CLIError(f"the ACME server offers no http-01 challenge for {name}")


def _failure(authz: dict[str, Any]) -> str:
    """The problem detail of a failed authorization: its http-01 challenge's error, else its status."""
    name = (authz.get("identifier") or {}).get("value", "?")
    for challenge in authz.get("challenges") or []:
        if isinstance(challenge, dict) and challenge.get("type") == "http-01" and challenge.get("error"):
            return f"http-01 for {name} failed: {problem_detail(challenge['error'])}"
    return f"http-01 for {name} failed: the authorization is {authz.get('status')}"


async def authorize(client: AcmeClient, order: dict[str, Any], solver: ChallengeSolver, *, deadline: float) -> None:
    """Solve http-01 for every pending authorization of ``order``; raise on the first that fails."""
    pending: list[tuple[str, str]] = []  # (authz url, token)
    try:
        for url in order.get("authorizations") or []:
            authz = (await client.post(url, None, refused="cannot read the authorization")).document()
            if authz.get("status") == "valid":
                continue
            challenge = _http01(authz)
            token = str(challenge.get("token", ""))
            await solver.present(token, f"{token}.{client.key.thumbprint}")
            pending.append((url, token))
            await client.post(str(challenge["url"]), {}, refused="the ACME server refused the http-01 challenge")
        for url, _ in pending:
            authz = await client.poll(url, until=AUTHZ_SETTLED, what="authorization", deadline=deadline)
            if authz.get("status") != "valid":
                raise CLIError(_failure(authz))
    finally:
        for _, token in pending:
            await solver.remove(token)


async def finalize(client: AcmeClient, order_url: str, csr_der: bytes, *, deadline: float) -> dict[str, Any]:
    """Wait for ``ready``, send the CSR, wait for ``valid``; the valid order."""
    order = await client.poll(order_url, until=ORDER_SETTLED, what="order", deadline=deadline)
    if order.get("status") == "ready":
        await client.post(str(order["finalize"]), {"csr": b64url_encode(csr_der)},
                          refused="the ACME server refused to finalize the order")
        order = await client.poll(order_url, until=frozenset({"valid", "invalid"}), what="order", deadline=deadline)
    if order.get("status") != "valid":
        error = order.get("error")
        detail = problem_detail(error) if isinstance(error, dict) else f"the order is {order.get('status')}"
        raise CLIError(f"the order failed: {detail}")
    if not isinstance(order.get("certificate"), str):
        raise CLIError("the ACME server marked the order valid without a certificate URL")
    return order


async def obtain_chain(
    directory_url: str, ssl_context: ssl.SSLContext, request: OrderRequest, solver: ChallengeSolver
) -> bytes:
    """The whole flow with a new account; the certificate chain as the server sent it (PEM, leaf first).

    Polling (validation, issuance) is bounded by POLL_TIMEOUT in all; each request by REQUEST_TIMEOUT.
    """
    deadline = asyncio.get_running_loop().time() + POLL_TIMEOUT
    connector = aiohttp.TCPConnector(ssl=ssl_context)
    async with aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT) as session:
        client = AcmeClient(session, directory_url)
        await client.new_account(request.contact)
        order_url, order = await client.new_order(request)
        await authorize(client, order, solver, deadline=deadline)
        valid = await finalize(client, order_url, request.csr_der, deadline=deadline)
        return await client.download(str(valid["certificate"]))
