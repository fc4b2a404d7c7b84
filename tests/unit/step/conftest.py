"""An in-process step service on a real database (SQLite and PostgreSQL) with a frozen clock.

Everything is real — engine, repositories, replay table, CRL — except time, which tests move by hand so
expiry, renewal-after-expiry and token lifetimes can be exercised without sleeping.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto import jwk

from acmeca.config import CRLConfig
from acmeca.crypto.jose import generate_jwk, public_part
from acmeca.crypto.keys import KeySpec, PrivateKey, generate_key
from acmeca.domain.claims import Claims
from acmeca.domain.clock import FrozenClock
from acmeca.engine.crl import CRLService
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.pki import CACertificates, create_ca_certificates
from acmeca.engine.provisioners import ProvisionerCatalog
from acmeca.engine.trust import SigningAuthority
from acmeca.runtime import Runtime
from acmeca.step.jwt import sign_compact
from acmeca.step.ott import TokenVerifier
from acmeca.step.service import StepService
from acmeca.store.database import Database
from acmeca.store.schema import certificates

CA_URL = "https://ca.test:9443"
DNS_NAMES = ("ca.test", "127.0.0.1")
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AUTHORITY_CLAIMS = Claims(min_duration=timedelta(minutes=1), max_duration=timedelta(hours=24),
                          default_duration=timedelta(hours=1))


@dataclass
class StepEnv:
    service: StepService
    verifier: TokenVerifier
    engine: IssuingEngine
    database: Database
    clock: FrozenClock
    pki: CACertificates
    provisioner_key: jwk.JWK
    provisioner_docs: list[dict[str, Any]]
    ed_key: jwk.JWK
    x5c_root: x509.Certificate
    x5c_root_key: ec.EllipticCurvePrivateKey
    crl: CRLService

    @property
    def kid(self) -> str:
        return str(self.provisioner_key["kid"])

    def token(self, subject: str, *, purpose: str = "sign", issuer: str = "admin", **overrides: Any) -> str:
        """A JWK token as step writes it; ``overrides`` replace claims (None removes one)."""
        now = int(self.clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": issuer, "aud": f"{CA_URL}/1.0/{purpose}", "sub": subject, "nbf": now, "iat": now,
            "exp": now + 300, "jti": secrets.token_hex(32),
        }
        if purpose == "sign":
            claims["sans"] = [subject]
        header = {"alg": "ES256", "kid": self.kid, "typ": "JWT"}
        header.update(overrides.pop("header", {}))
        key = overrides.pop("key", None) or self.provisioner_key
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return sign_compact(claims, key, header)

    async def certificate_count(self) -> int:
        async with self.database.read() as tx:
            return int(await tx.scalar(
                sa.select(sa.func.count()).select_from(certificates).where(certificates.c.state == "issued")
            ) or 0)


def make_csr(common_name: str | None, dns_names: list[str] = (), ips: list[str] = (),  # type: ignore[assignment]
             key: PrivateKey | None = None) -> tuple[str, PrivateKey]:
    import ipaddress

    key = key or generate_key(KeySpec())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    )
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def x5c_material(clock: FrozenClock) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A separate root for the X5C provisioner (its trust is its own, not the CA's)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "X5C Root")])
    root = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(clock.now() - timedelta(days=1))
        .not_valid_after(clock.now() + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return root, key


@pytest.fixture
async def step_env(database: Database, tmp_path: Path) -> AsyncIterator[StepEnv]:
    clock = FrozenClock(START)
    root_key, intermediate_key = generate_key(KeySpec()), generate_key(KeySpec())
    pki = create_ca_certificates("Test", root_key, intermediate_key, now=START - timedelta(days=1))
    runtime = Runtime(cpu_workers=2)
    authority = SigningAuthority(pki.intermediate, intermediate_key, (pki.intermediate,))
    engine = IssuingEngine(
        authority=authority, db=database, clock=clock, runtime=runtime,
        backdate=timedelta(minutes=1),
    )
    private = generate_jwk("EC", "P-256")
    ed_private = generate_jwk("OKP", "Ed25519")
    x5c_root, x5c_key = x5c_material(clock)
    docs: list[dict[str, Any]] = [
        {"type": "JWK", "name": "admin", "key": public_part(private)},
        {"type": "JWK", "name": "norenew", "key": public_part(generate_jwk()), "claims": {"disableRenewal": True}},
        {"type": "X5C", "name": "x5c", "roots": x5c_root.public_bytes(serialization.Encoding.PEM).decode()},
        {"type": "ACME", "name": "acme"},
        {"type": "JWK", "name": "ed", "key": public_part(ed_private),
         "claims": {"defaultTLSCertDuration": "30m", "maxTLSCertDuration": "2h"}},
    ]
    catalog = ProvisionerCatalog(docs, None, clock)
    verifier = TokenVerifier(
        catalog=catalog, authority_claims=AUTHORITY_CLAIMS, dns_names=DNS_NAMES, roots=(pki.root,),
        db=database, clock=clock,
    )
    crl = CRLService(
        config=CRLConfig(enabled=True, generate_on_revoke=True), authority=authority,
        db=database, clock=clock, runtime=runtime,
        idp_url=f"{CA_URL}/1.0/crl",
    )
    engine.on_revocation(crl.on_revocation)
    service = StepService(engine=engine, verifier=verifier, catalog=catalog, authority_claims=AUTHORITY_CLAIMS,
                          crl=crl, clock=clock)
    yield StepEnv(service=service, verifier=verifier, engine=engine, database=database, clock=clock, pki=pki,
                  provisioner_key=jwk.JWK(**json.loads(json.dumps(private))), provisioner_docs=docs,
                  ed_key=jwk.JWK(**ed_private),
                  x5c_root=x5c_root, x5c_root_key=x5c_key, crl=crl)
    await runtime.close()
