"""The step-style token API under load: ``POST /1.0/sign`` with a JWK one-time token per certificate.

Tokens are minted as tests/integration/step/test_wire.py ``mint`` does: the JWK provisioner's
``encryptedKey`` is decrypted with jwcrypto and each token is signed ES256 with it, with a fresh ``jti``, so
the same client works against acmeca and step-ca. A client mints its token and makes its key and CSR right
before each request, as ``step ca certificate`` does; that work is the load client's CPU, not the server's.
"""

from __future__ import annotations

import json
import secrets
import ssl
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from jwcrypto import jwa, jwe, jwk, jws

from bench.acme_flow import Counters, FlowError, make_csr, one_connection_session

jwa.default_max_pbkdf2_iterations = 1_000_000  # step-ca and acmeca encrypt provisioner keys with p2c up to 600000


class Minter:
    """Mints one-time tokens for a JWK provisioner of a running CA."""

    def __init__(self, provisioner: dict[str, Any], password: str, sign_url: str, root_fingerprint: str):
        token = jwe.JWE()
        token.deserialize(provisioner["encryptedKey"], key=jwk.JWK.from_password(password))
        self.key = jwk.JWK(**json.loads(token.payload))
        self.kid = provisioner["key"]["kid"]
        self.issuer = provisioner["name"]
        self.sign_url = sign_url
        self.fingerprint = root_fingerprint

    def mint(self, subject: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.sign_url, "sub": subject, "sans": [subject], "nbf": now, "iat": now,
            "exp": now + 300, "jti": secrets.token_hex(32), "sha": self.fingerprint,
        }  # fmt: skip
        token = jws.JWS(json.dumps(claims).encode())
        protected = {"alg": "ES256", "kid": self.kid, "typ": "JWT"}
        token.add_signature(self.key, alg="ES256", protected=json.dumps(protected))
        return str(token.serialize(compact=True))


class SignClient:
    """One simulated ``step ca certificate`` user: one keep-alive connection, one certificate per call."""

    def __init__(self, minter: Minter, tls: ssl.SSLContext):
        self.minter = minter
        self.session = one_connection_session(tls)
        self.counters = Counters()

    async def close(self) -> None:
        await self.session.close()

    async def sign_flow(self, name: str) -> None:
        started = time.perf_counter()
        body = {"csr": make_csr(name, serialization.Encoding.PEM).decode(), "ott": self.minter.mint(name)}
        self.counters.requests += 1
        async with self.session.post(self.minter.sign_url, json=body) as response:
            answer = await response.read()
            if response.status != 201 or b"BEGIN CERTIFICATE" not in answer:
                raise FlowError(f"POST {self.minter.sign_url}: {response.status} {answer[:300]!r}")
        self.counters.flows.append(time.perf_counter() - started)
