"""X5C chains and tokens (§2.5) and renew bearer tokens (§2.8)."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jwcrypto import jwk

from acmeca.cli.tokens import renew_token
from acmeca.crypto import certs
from acmeca.domain.errors import Unauthenticated
from acmeca.step.jwt import sign_compact
from acmeca.step.ott import Purpose
from acmeca.step.provisioners.x5c import check_client_leaf, verify_chain
from acmeca.step.service import SignRequest
from tests.unit.step.conftest import CA_URL, StepEnv, make_csr


def _leaf(env: StepEnv, *, client_auth: bool = True, lifetime: timedelta = timedelta(hours=1),
          start: datetime | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    start = start or env.clock.now() - timedelta(minutes=1)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else [ExtendedKeyUsageOID.SERVER_AUTH]
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x5c.test")]))
        .issuer_name(env.x5c_root.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + lifetime)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .sign(env.x5c_root_key, hashes.SHA256())
    )
    return leaf, key


def _x5c_token(env: StepEnv, leaf: x509.Certificate, key: ec.EllipticCurvePrivateKey, **claims: object) -> str:
    now = int(env.clock.now().timestamp())
    body: dict[str, object] = {"iss": "x5c", "aud": f"{CA_URL}/1.0/sign#x5c/x5c", "sub": "x5c.test",
                               "sans": ["x5c.test"], "nbf": now, "iat": now, "exp": now + 300,
                               "jti": secrets.token_hex(32)}
    body.update(claims)
    header = {"alg": "ES256", "typ": "JWT", "x5c": [base64.b64encode(certs.to_der(leaf)).decode()]}
    return sign_compact(body, jwk.JWK.from_pyca(key), header)


def test_chain_verification(step_env: StepEnv) -> None:
    leaf, _ = _leaf(step_env)
    assert verify_chain([leaf], [step_env.x5c_root], at=step_env.clock.now()) == leaf
    with pytest.raises(Unauthenticated, match="does not chain"):
        verify_chain([leaf], [step_env.pki.root], at=step_env.clock.now())
    with pytest.raises(Unauthenticated, match="not valid at"):
        verify_chain([leaf], [step_env.x5c_root], at=step_env.clock.now() + timedelta(hours=2))
    with pytest.raises(Unauthenticated, match="clientAuth"):
        check_client_leaf(_leaf(step_env, client_auth=False)[0])


async def test_intermediates_come_from_the_chain(step_env: StepEnv) -> None:
    chain, _ = await _ca_issued(step_env)
    now = step_env.clock.now()
    assert verify_chain(chain, [step_env.pki.root], at=now) == chain[0]
    with pytest.raises(Unauthenticated, match="does not chain"):
        verify_chain(chain[:1], [step_env.pki.root], at=now)


async def test_x5c_token_signs_and_caps_validity(step_env: StepEnv) -> None:
    leaf, key = _leaf(step_env, lifetime=timedelta(minutes=30))
    csr, _ = make_csr("x5c.test", ["x5c.test"])
    issued = await step_env.service.sign(SignRequest(csr=csr, ott=_x5c_token(step_env, leaf, key), not_after="1h"))
    assert issued.not_after == leaf.not_valid_after_utc
    extension = certs.provisioner_of(x509.load_pem_x509_certificate(issued.leaf_pem.encode()))
    assert extension is not None
    assert extension[:2] == (7, "x5c")


@pytest.mark.parametrize(
    ("claims", "message"),
    [({"iss": "admin"}, "invalid issuer"), ({"aud": f"{CA_URL}/1.0/sign#x5c/other"}, "provisioner not found")],
)
async def test_x5c_token_claims(step_env: StepEnv, claims: dict[str, object], message: str) -> None:
    leaf, key = _leaf(step_env)
    with pytest.raises(Unauthenticated, match=message):
        await step_env.verifier.authorize(_x5c_token(step_env, leaf, key, **claims), Purpose.SIGN)


async def test_x5c_token_signed_by_another_key_is_refused(step_env: StepEnv) -> None:
    leaf, _ = _leaf(step_env)
    with pytest.raises(Unauthenticated, match="signature"):
        await step_env.verifier.authorize(
            _x5c_token(step_env, leaf, ec.generate_private_key(ec.SECP256R1())), Purpose.SIGN)


async def _ca_issued(
    env: StepEnv, ago: timedelta = timedelta(0)
) -> tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]:
    env.clock.set(datetime.now(UTC) - ago)  # renew tokens are minted on the real clock
    csr, key = make_csr("renew.test", ["renew.test"])
    issued = await env.service.sign(SignRequest(csr=csr, ott=env.token("renew.test")))
    chain = [x509.load_pem_x509_certificate(p.encode()) for p in issued.chain_pem]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return chain, key


async def test_renew_token_renews_and_is_single_use(step_env: StepEnv) -> None:
    chain, key = await _ca_issued(step_env)
    bearer = renew_token(chain, key, audience=f"{CA_URL}/1.0/renew")
    step_env.clock.set(datetime.fromtimestamp(_iat(bearer), step_env.clock.now().tzinfo))
    issued = await step_env.service.renew(peer=None, bearer=bearer)
    assert certs.spki_sha256_of(x509.load_pem_x509_certificate(issued.leaf_pem.encode())) == certs.spki_sha256_of(
        chain[0])
    with pytest.raises(Unauthenticated, match="error validating renew token: token already used"):
        await step_env.service.renew(peer=None, bearer=bearer)


def _iat(token: str) -> int:
    import json

    payload = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iat"])


async def test_renew_token_for_an_expired_certificate(step_env: StepEnv) -> None:
    chain, key = await _ca_issued(step_env, ago=timedelta(hours=3))
    step_env.clock.set(datetime.now(UTC))
    assert (await _refusal(step_env, chain, key)).startswith("certificate expired on")
    assert await step_env.certificate_count() == 1
    await step_env.edit_provisioner(0, claims={"allowRenewalAfterExpiry": True})
    issued = await step_env.service.renew(peer=None, bearer=renew_token(chain, key, audience=f"{CA_URL}/1.0/renew"))
    assert issued.not_after - issued.not_before == chain[0].not_valid_after_utc - chain[0].not_valid_before_utc


async def _refusal(env: StepEnv, chain: list[x509.Certificate], key: ec.EllipticCurvePrivateKey) -> str:
    try:
        await env.service.renew(peer=None, bearer=renew_token(chain, key, audience=f"{CA_URL}/1.0/renew"))
    except Unauthenticated as exc:
        return exc.detail
    raise AssertionError("renewal of an expired certificate was accepted")


async def test_renew_token_with_wrong_audience_or_foreign_chain(step_env: StepEnv) -> None:
    chain, key = await _ca_issued(step_env)
    bearer = renew_token(chain, key, audience=f"{CA_URL}/1.0/sign")
    step_env.clock.set(datetime.fromtimestamp(_iat(bearer), step_env.clock.now().tzinfo))
    with pytest.raises(Unauthenticated, match="invalid audience"):
        await step_env.service.renew(peer=None, bearer=bearer)
    leaf, leaf_key = _leaf(step_env)
    foreign = renew_token([leaf], leaf_key, audience=f"{CA_URL}/1.0/renew")
    with pytest.raises(Unauthenticated, match="does not chain"):
        await step_env.service.renew(peer=None, bearer=foreign)
