"""OIDC key cache (TTL, rotation, rate limit) and K8sSA key parsing, without any network."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk

from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import Unauthenticated
from acmeca.step.provisioners.k8ssa import parse_public_keys
from acmeca.step.provisioners.oidc import OIDCKeyCache

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ENDPOINT = "https://idp.test/.well-known/openid-configuration"


class FakeProvider:
    def __init__(self) -> None:
        self.kid = "k1"
        self.fetches = 0

    async def __call__(self, url: str) -> dict[str, Any]:
        self.fetches += 1
        if url == ENDPOINT:
            return {"issuer": "https://idp.test", "jwks_uri": "https://idp.test/jwks"}
        key = jwk.JWK.generate(kty="EC", crv="P-256", kid=self.kid)
        return {"keys": [json.loads(key.export_public())]}


async def test_cache_ttl_and_rotation() -> None:
    clock, provider = FrozenClock(NOW), FakeProvider()
    cache = OIDCKeyCache(clock, provider)
    assert set((await cache.get(ENDPOINT, kid="k1")).keys) == {"k1"}
    await cache.get(ENDPOINT, kid="k1")
    assert provider.fetches == 2  # discovery + JWKS once
    provider.kid = "k2"
    assert set((await cache.get(ENDPOINT, kid="k2")).keys) == {"k2"}  # unknown kid: refreshed at once
    assert provider.fetches == 4
    await cache.get(ENDPOINT, kid="made-up")
    await cache.get(ENDPOINT, kid="made-up-2")
    assert provider.fetches == 4  # ...but at most once a minute
    clock.advance(timedelta(hours=2))
    await cache.get(ENDPOINT, kid="k2")
    assert provider.fetches == 6  # TTL


async def test_discovery_without_jwks_uri_is_refused() -> None:
    async def broken(url: str) -> dict[str, Any]:
        return {"issuer": "https://idp.test"}

    with pytest.raises(Unauthenticated, match="jwks_uri"):
        await OIDCKeyCache(FrozenClock(NOW), broken).get(ENDPOINT)


def _pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("encode", [lambda b: b.decode(), lambda b: base64.b64encode(b).decode()])
def test_k8ssa_keys_as_pem_or_base64(encode: Any) -> None:
    assert len(parse_public_keys(encode(_pem() + _pem()))) == 2


@pytest.mark.parametrize("value", ["", None, "bm90IGEga2V5", 42])
def test_k8ssa_bad_keys(value: Any) -> None:
    with pytest.raises(ValueError, match="K8sSA"):
        parse_public_keys(value)
