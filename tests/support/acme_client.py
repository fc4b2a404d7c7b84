"""A small ACME client on josepy, for what certbot and lego do not exercise.

keyChange, account deactivation, orders-list pagination, authorization deactivation and revocation signed
with the certificate key; plus ``signed`` with knobs for hostile requests (wrong url, both jwk and kid,
another alg...) used by the negative suite. Every reply is returned raw so tests can assert headers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from josepy.jwa import ES256, ES384, RS256, JWASignature
from josepy.jwk import JWK

from acmeca.crypto.jose import EdDSA, okp_jwk, thumbprint

JOSE = "application/jose+json"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class Reply:
    status: int
    headers: Any  # CIMultiDictProxy
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def problem_type(self) -> str:
        return str(self.json().get("type", "")).rsplit(":", 1)[-1]

    def links(self, rel: str) -> list[str]:
        found = []
        for value in self.headers.getall("Link", []):
            url, _, params = value.partition(";")
            if f'rel="{rel}"' in params.replace(" ", ""):
                found.append(url.strip().strip("<>"))
        return found


@dataclass
class AccountKey:
    private: Any

    @classmethod
    def generate(cls, kind: str = "ec") -> AccountKey:
        if kind == "rsa":
            return cls(rsa.generate_private_key(65537, 2048))
        if kind == "ed25519":
            return cls(ed25519.Ed25519PrivateKey.generate())
        if kind == "p384":
            return cls(ec.generate_private_key(ec.SECP384R1()))
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def alg(self) -> str:
        if isinstance(self.private, rsa.RSAPrivateKey):
            return "RS256"
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            return "EdDSA"
        return "ES384" if self.private.curve.name == "secp384r1" else "ES256"

    @property
    def algorithm(self) -> JWASignature:
        return {"RS256": RS256, "ES256": ES256, "ES384": ES384, "EdDSA": EdDSA}[self.alg]

    @property
    def jwk(self) -> dict[str, Any]:
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            return okp_jwk(self.private.public_key())
        return dict(JWK.load(self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )).public_key().to_partial_json())

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.jwk)

    def sign(self, message: bytes) -> bytes:
        return bytes(self.algorithm.sign(self.private, message))


def jws(
    key: AccountKey, payload: Any, *, url: str, nonce: str | None, kid: str | None = None,
    header: dict[str, Any] | None = None, alg: str | None = None, drop: tuple[str, ...] = (),
) -> dict[str, str]:
    """A flattened JWS; ``payload=None`` signs POST-as-GET (empty payload)."""
    protected: dict[str, Any] = {"alg": alg or key.alg, "url": url}
    if nonce is not None:
        protected["nonce"] = nonce
    if kid:
        protected["kid"] = kid
    else:
        protected["jwk"] = key.jwk
    protected.update(header or {})
    for name in drop:
        protected.pop(name, None)
    protected_b64 = b64(json.dumps(protected).encode())
    payload_b64 = "" if payload is None else b64(json.dumps(payload).encode())
    signature = key.sign(f"{protected_b64}.{payload_b64}".encode())
    return {"protected": protected_b64, "payload": payload_b64, "signature": b64(signature)}


def make_csr(names: list[str], ips: list[str] = (), *, key: Any = None, cn: str | None = None) -> tuple[bytes, Any]:  # type: ignore[assignment]
    import ipaddress

    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, digest).public_bytes(serialization.Encoding.DER), key


@dataclass
class AcmeClient:
    session: aiohttp.ClientSession
    directory_url: str
    key: AccountKey = field(default_factory=AccountKey.generate)
    transport: str = "https"  # the scheme actually spoken (URLs are always https)
    ssl_context: ssl.SSLContext | bool = False
    kid: str | None = None
    replica_ports: tuple[int, ...] = ()  # round-robin requests over replicas that share one public Host
    _sent: int = 0
    _directory: dict[str, Any] | None = None
    _nonce: str | None = None

    def wire(self, url: str) -> str:
        return url if self.transport == "https" else "http" + url[len("https"):]

    def _route(self, url: str, headers: dict[str, str] | None) -> tuple[str, dict[str, str] | None]:
        """Send to the next replica while keeping the Host the client was given (as a load balancer does)."""
        if not self.replica_ports:
            return self.wire(url), headers
        from yarl import URL

        target = URL(self.wire(url))
        port = self.replica_ports[self._sent % len(self.replica_ports)]
        self._sent += 1
        return str(target.with_port(port)), {**(headers or {}), "Host": f"{target.host}:{target.port}"}

    async def raw(self, method: str, url: str, *, data: Any = None, headers: dict[str, str] | None = None) -> Reply:
        target, headers = self._route(url, headers)
        async with self.session.request(method, target, data=data, headers=headers, ssl=self.ssl_context) as response:
            body = await response.read()
            if "Replay-Nonce" in response.headers:
                self._nonce = response.headers["Replay-Nonce"]
            return Reply(response.status, response.headers, body)

    async def directory(self) -> dict[str, Any]:
        if self._directory is None:
            self._directory = (await self.raw("GET", self.directory_url)).json()
        return self._directory

    async def nonce(self) -> str:
        if self._nonce is None:
            await self.raw("HEAD", (await self.directory())["newNonce"])
        nonce, self._nonce = self._nonce, None
        assert nonce
        return nonce

    async def post(self, url: str, payload: Any, *, key: AccountKey | None = None, use_jwk: bool = False,
                   retry_bad_nonce: bool = True, nonce_override: str | None = None, **knobs: Any) -> Reply:
        body = jws(key or self.key, payload, url=url, nonce=nonce_override or await self.nonce(),
                   kid=None if use_jwk else self.kid, **knobs)
        reply = await self.raw("POST", url, data=json.dumps(body), headers={"Content-Type": JOSE})
        if retry_bad_nonce and reply.status == 400 and reply.problem_type == "badNonce":
            return await self.post(url, payload, key=key, use_jwk=use_jwk, retry_bad_nonce=False, **knobs)
        return reply

    async def get(self, url: str) -> Reply:
        """POST-as-GET."""
        return await self.post(url, None)

    async def register(self, **fields: Any) -> Reply:
        payload = {"termsOfServiceAgreed": True, **fields}
        reply = await self.post((await self.directory())["newAccount"], payload, use_jwk=True)
        if reply.status in (200, 201):
            self.kid = reply.headers["Location"]
        return reply

    async def new_order(self, identifiers: list[dict[str, str]], **fields: Any) -> Reply:
        return await self.post((await self.directory())["newOrder"], {"identifiers": identifiers, **fields})

    async def poll(self, url: str, *, until: tuple[str, ...], patience: float = 10.0) -> Reply:
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            reply = await self.get(url)
            if reply.json().get("status") in until or asyncio.get_running_loop().time() > deadline:
                return reply
            await asyncio.sleep(0.05)

    async def finalize(self, order: dict[str, Any], csr_der: bytes) -> Reply:
        return await self.post(order["finalize"], {"csr": b64(csr_der)})

    async def key_change(self, new_key: AccountKey) -> Reply:
        url = (await self.directory())["keyChange"]
        inner = jws(new_key, {"account": self.kid, "oldKey": self.key.jwk}, url=url, nonce=None)
        reply = await self.post(url, inner)
        if reply.status == 200:
            self.key = new_key
        return reply

    async def deactivate(self) -> Reply:
        assert self.kid
        return await self.post(self.kid, {"status": "deactivated"})

    async def all_orders(self, orders_url: str) -> tuple[list[str], int]:
        """Follow rel="next" to the end; returns the order URLs and the number of pages."""
        urls: list[str] = []
        pages = 0
        next_url: str | None = orders_url
        while next_url:
            reply = await self.get(next_url)
            assert reply.status == 200, reply.body
            urls += reply.json()["orders"]
            pages += 1
            following = reply.links("next")
            next_url = following[0] if following else None
        return urls, pages

    async def revoke(self, cert_der: bytes, *, reason: int | None = None, cert_key: Any = None) -> Reply:
        url = (await self.directory())["revokeCert"]
        payload: dict[str, Any] = {"certificate": b64(cert_der)}
        if reason is not None:
            payload["reason"] = reason
        if cert_key is not None:
            return await self.post(url, payload, key=AccountKey(cert_key), use_jwk=True)
        return await self.post(url, payload)
