"""Tokens as ``acmeca token`` mints them (stepca.md §2.1, §2.8) and the CLI's small parsers."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jwcrypto import jwk

from acmeca.cli.commands.renewal import parse_reason_code
from acmeca.cli.errors import CLIError
from acmeca.cli.tokens import jwk_token, token_window
from acmeca.crypto.jose import generate_jwk

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


def test_default_window_is_five_minutes() -> None:
    window = token_window(None, None, now=NOW)
    assert (window.not_before, window.expires) == (NOW, NOW + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("not_before", "not_after", "message"),
    [(None, "5s", "at least 10 seconds"), (None, "2h", "at most 1 hour"), ("31m", None, "30 minutes"),
     (None, "later", "invalid time or duration")],
)
def test_window_limits(not_before: str | None, not_after: str | None, message: str) -> None:
    with pytest.raises(CLIError, match=message):
        token_window(not_before, not_after, now=NOW)


@pytest.mark.parametrize(("crv", "alg"), [("P-256", "ES256"), ("P-384", "ES384"), ("Ed25519", "EdDSA")])
def test_jwk_token_shape(crv: str, alg: str) -> None:
    private = generate_jwk("OKP" if crv == "Ed25519" else "EC", crv)
    token = jwk_token("svc.test", issuer="admin", audience="https://ca.test/1.0/sign", key=jwk.JWK(**private),
                      window=token_window(None, None, now=datetime.now(UTC)), sans=["svc.test"],
                      root_fingerprint="ab" * 32, cnf="fp")
    header, claims = _part(token, 0), _part(token, 1)
    assert header == {"alg": alg, "kid": private["kid"], "typ": "JWT"}
    assert set(claims) == {"iss", "aud", "sub", "sans", "nbf", "iat", "exp", "jti", "sha", "cnf"}
    assert claims["aud"] == "https://ca.test/1.0/sign"
    assert claims["exp"] - claims["nbf"] == 300
    assert len(claims["jti"]) == 64
    assert claims["cnf"] == {"x5rt#S256": "fp"}


@pytest.mark.parametrize(
    ("value", "code"),
    [(None, 0), ("0", 0), ("10", 10), ("keyCompromise", 1), ("Key Compromise", 1), ("cACompromise", 2),
     ("removeFromCRL", 8), ("AACOMPROMISE", 10), ("superseded", 4)],
)
def test_reason_codes(value: str | None, code: int) -> None:
    assert parse_reason_code(value) == code


@pytest.mark.parametrize("value", ["7", "11", "stolen", "-1"])
def test_bad_reason_codes(value: str) -> None:
    with pytest.raises(CLIError):
        parse_reason_code(value)
