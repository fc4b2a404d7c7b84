"""Token rules of stepca.md §2.1–2.4: audience, issuer, key/alg, time, replay (in the database)."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jwcrypto import jwk, jws

from acmeca.domain.errors import Unauthenticated
from acmeca.step.jwt import parse_compact, sign_compact, verify_signature
from acmeca.step.ott import Purpose, audience_matches, ca_audiences, check_times
from tests.unit.step.conftest import StepEnv

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("audience", "purpose", "accepted"),
    [
        ("https://ca.test/1.0/sign", Purpose.SIGN, True),
        ("https://ca.test:9443/1.0/sign", Purpose.SIGN, True),
        ("https://ca.test:1234/sign", Purpose.SIGN, True),
        ("https://127.0.0.1:9443/1.0/sign", Purpose.SIGN, True),
        ("https://[::1]:9443/1.0/sign", Purpose.SIGN, True),
        ("https://ca.test/1.0/sign#x5c/x5c", Purpose.SIGN, True),
        ("step-certificate-authority", Purpose.SIGN, True),
        ("step-certificate-authority", Purpose.RENEW, False),
        ("https://ca.test/1.0/revoke", Purpose.SIGN, False),
        ("https://ca.test/1.0/revoke", Purpose.REVOKE, True),
        ("https://other.test/1.0/sign", Purpose.SIGN, False),
        ("http://ca.test/1.0/sign", Purpose.SIGN, False),
        ("https://ca.test/1.0/renew", Purpose.RENEW, True),
    ],
)
def test_audiences(audience: str, purpose: Purpose, accepted: bool) -> None:
    assert audience_matches([audience], ca_audiences(["ca.test", "127.0.0.1", "::1"], purpose)) is accepted


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": NOW - timedelta(minutes=2)}, "expired"),
        ({"exp": NOW + timedelta(minutes=5), "nbf": NOW + timedelta(minutes=2)}, "not valid yet"),
        ({"exp": NOW + timedelta(minutes=5), "iat": NOW + timedelta(minutes=2)}, "issued in the future"),
        ({}, "missing expiration"),
        ({"exp": "tomorrow"}, "not a number"),
    ],
)
def test_times_refused(claims: dict[str, Any], message: str) -> None:
    numeric = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    with pytest.raises(Unauthenticated, match=message):
        check_times(numeric, NOW)


def test_times_have_one_minute_leeway() -> None:
    later = int((NOW + timedelta(seconds=50)).timestamp())
    claims = {"exp": int((NOW - timedelta(seconds=50)).timestamp()), "nbf": later, "iat": later}
    assert check_times(claims, NOW) == NOW - timedelta(seconds=50)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("raw", ["", "a.b", "not.a.token", f"{_b64({'alg': 'none'})}.{_b64({})}.",
                                 f"{_b64({'alg': 'none'})}.{_b64({})}.c2ln", f"{_b64({'alg': 'ES256'})}.{_b64({})}."])
def test_unparsable_and_unsigned_tokens(raw: str) -> None:
    with pytest.raises(Unauthenticated):
        parse_compact(raw)


@pytest.mark.parametrize(("kty", "crv", "alg"), [("EC", "P-256", "ES256"), ("EC", "P-384", "ES384"),
                                                  ("EC", "P-521", "ES512"), ("OKP", "Ed25519", "EdDSA")])
def test_algorithm_follows_the_key(kty: str, crv: str, alg: str) -> None:
    key = jwk.JWK.generate(kty=kty, crv=crv)
    token = parse_compact(sign_compact({"sub": "x"}, key, {"alg": alg}))
    verify_signature(token, jwk.JWK(**json.loads(key.export_public())))


def test_rsa_keys_take_rs256() -> None:
    key = jwk.JWK.generate(kty="RSA", size=2048)
    verify_signature(parse_compact(sign_compact({"sub": "x"}, key, {"alg": "RS256"})), key)


def test_hmac_with_a_public_key_is_refused() -> None:
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    secret = jwk.JWK.generate(kty="oct", size=256)
    token = parse_compact(sign_compact({"sub": "x"}, secret, {"alg": "HS256"}))
    with pytest.raises(Unauthenticated, match="algorithm HS256 does not match"):
        verify_signature(token, key)


def test_tampered_payload_is_refused() -> None:
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    header, _, signature = sign_compact({"sub": "x"}, key, {"alg": "ES256"}).split(".")
    with pytest.raises(Unauthenticated, match="signature"):
        verify_signature(parse_compact(f"{header}.{_b64({'sub': 'y'})}.{signature}"), key)


def test_a_reused_verifier_keeps_nothing_from_the_previous_token() -> None:
    """jwt.py reuses one jwcrypto JWS per thread: a good token must not vouch for the next, bad one."""
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    good = sign_compact({"sub": "x"}, key, {"alg": "ES256"})
    header, _, signature = good.split(".")
    tampered = f"{header}.{_b64({'sub': 'y'})}.{signature}"
    signed = jws.JWSCore("ES256", key, json.dumps({"alg": "ES256", "crit": ["x-unknown"], "x-unknown": 1}),
                         json.dumps({"sub": "x"}).encode()).sign()  # jwcrypto will not sign it otherwise
    unknown_crit = f"{signed['protected']}.{signed['payload'].decode()}.{signed['signature']}"
    wrong_key = sign_compact({"sub": "x"}, other, {"alg": "ES256"})
    for bad in (tampered, wrong_key, unknown_crit, f"{header}.{_b64({'sub': 'x'})}.{signature[:-8]}"):
        verify_signature(parse_compact(good), key)
        with pytest.raises(Unauthenticated, match="signature"):
            verify_signature(parse_compact(bad), key)
    verify_signature(parse_compact(good), key)


async def test_valid_token_is_accepted_once(step_env: StepEnv) -> None:
    token = step_env.token("a.test")
    authorized = await step_env.verifier.authorize(token, Purpose.SIGN)
    assert authorized.provisioner.ref.name == "admin"
    assert authorized.subject == "a.test"
    with pytest.raises(Unauthenticated, match="token already used"):
        await step_env.verifier.authorize(token, Purpose.SIGN)


async def test_replay_is_per_jti_not_per_string(step_env: StepEnv) -> None:
    jti = secrets.token_hex(32)
    await step_env.verifier.authorize(step_env.token("a.test", jti=jti), Purpose.SIGN)
    with pytest.raises(Unauthenticated, match="token already used"):
        await step_env.verifier.authorize(step_env.token("b.test", jti=jti), Purpose.SIGN)


async def test_tokens_without_jti_are_spent_by_digest(step_env: StepEnv) -> None:
    token = step_env.token("a.test", jti=None)
    await step_env.verifier.authorize(token, Purpose.SIGN)
    with pytest.raises(Unauthenticated, match="token already used"):
        await step_env.verifier.authorize(token, Purpose.SIGN)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aud": "https://elsewhere.test/1.0/sign"}, "provisioner not found or invalid audience"),
        ({"aud": "https://ca.test/1.0/revoke"}, "provisioner not found or invalid audience"),
        ({"iss": "nobody"}, "provisioner not found"),
        ({"header": {"kid": "unknown"}}, "provisioner not found"),
        ({"sub": ""}, "subject cannot be empty"),
        ({"exp": 1}, "expired"),
        ({"key": jwk.JWK.generate(kty="EC", crv="P-256")}, "signature"),
        ({"header": {"alg": "ES384"}, "key": jwk.JWK.generate(kty="EC", crv="P-384")}, "algorithm ES384"),
    ],
)
async def test_bad_tokens_are_refused_and_not_spent(
    step_env: StepEnv, overrides: dict[str, Any], message: str
) -> None:
    jti = secrets.token_hex(32)
    with pytest.raises(Unauthenticated, match=message):
        await step_env.verifier.authorize(step_env.token("a.test", jti=jti, **overrides), Purpose.SIGN)
    await step_env.verifier.authorize(step_env.token("a.test", jti=jti), Purpose.SIGN)


async def test_expired_tokens_are_swept(step_env: StepEnv) -> None:
    from acmeca.store import used_tokens

    await step_env.verifier.authorize(step_env.token("a.test"), Purpose.SIGN)
    async with step_env.database.write() as tx:
        assert await used_tokens.sweep(tx, step_env.clock.now()) == 0
        assert await used_tokens.sweep(tx, step_env.clock.now() + timedelta(minutes=10)) == 1


async def test_far_future_expiry_is_refused_as_too_long_lived(step_env: StepEnv) -> None:
    token = step_env.token("a.test", exp=253402300799)  # 9999-12-31T23:59:59Z: a 401, not a server error
    with pytest.raises(Unauthenticated, match="lifetime"):
        await step_env.verifier.authorize(token, Purpose.SIGN)


async def test_token_lifetime_is_capped_at_one_hour(step_env: StepEnv) -> None:
    now = int(step_env.clock.now().timestamp())
    with pytest.raises(Unauthenticated, match=r"lifetime \(exp - nbf\) is longer than one hour"):
        await step_env.verifier.authorize(step_env.token("a.test", exp=now + 2 * 3600), Purpose.SIGN)
    await step_env.verifier.authorize(step_env.token("a.test", exp=now + 3600), Purpose.SIGN)
    await step_env.verifier.authorize(step_env.token("b.test", exp=now + 3000, iat=now - 3 * 3600), Purpose.SIGN)


async def test_the_root_fingerprint_claim_must_name_one_of_our_roots(step_env: StepEnv) -> None:
    from acmeca.crypto.certs import sha256_fingerprint

    ours = sha256_fingerprint(step_env.graph.trust.roots[0])
    with pytest.raises(Unauthenticated, match=r"root fingerprint \(sha\)"):
        await step_env.verifier.authorize(step_env.token("a.test", sha="00" * 32), Purpose.SIGN)
    with pytest.raises(Unauthenticated, match=r"root fingerprint \(sha\)"):
        await step_env.verifier.authorize(step_env.token("a.test", sha=42), Purpose.SIGN)
    await step_env.verifier.authorize(step_env.token("a.test", sha=ours), Purpose.SIGN)
    await step_env.verifier.authorize(step_env.token("b.test"), Purpose.SIGN)  # no claim: accepted, as step-ca


async def test_a_token_from_the_restores_own_second_is_refused_after_it(step_env: StepEnv) -> None:
    """Token times are whole seconds: one issued earlier in the second of a restore has iat == that second."""
    from acmeca.store import restore

    now = step_env.clock.now()
    async with step_env.database.write() as tx:
        await restore.seal(tx, now=now, secrets={})
    same_second = step_env.token("a.test", iat=int(now.timestamp()), nbf=int(now.timestamp()))
    with pytest.raises(Unauthenticated, match="issued before the CA's database was restored"):
        await step_env.verifier.authorize(same_second, Purpose.SIGN)
    later = int(now.timestamp()) + 1
    await step_env.verifier.authorize(step_env.token("b.test", iat=later, nbf=later, exp=later + 300), Purpose.SIGN)
