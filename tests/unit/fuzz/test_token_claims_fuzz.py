"""Fuzzing what reads token claims and headers once the compact JWS is split: OTT times and audiences, the
replay key, the x5c chain of admin and renew tokens, and the step durations of /1.0/sign bodies.

Claims start from a valid OTT's and get subtrees replaced by random JSON (NaN, huge integers, nested
lists). x5c headers hold a real client chain, mutated DER, garbage base64 or a certificate whose extension
cryptography cannot read. Allowed outcomes: a value or a CAError.
"""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from acmeca.admin.service.auth import certificate_names
from acmeca.crypto import certs
from acmeca.domain.durations import parse_duration, parse_time_or_duration
from acmeca.domain.errors import CAError
from acmeca.step.jwt import CompactJWS
from acmeca.step.ott import Purpose, audience_matches, audiences_of, ca_audiences, check_times, reuse_key
from acmeca.step.provisioners.third_party import check_optional_times
from acmeca.step.provisioners.x5c import verify_x5c_token
from acmeca.step.service import _requested
from tests.unit.fuzz.strategies import (
    cert_der,
    cert_with_broken_extension,
    cert_with_broken_names,
    certificate_chain,
    mutated_bytes,
    mutated_json,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
_CLAIMS = {"iss": "jwk", "sub": "a.test", "aud": "https://ca.test/1.0/sign#jwk/kid", "exp": NOW.timestamp() + 60,
           "nbf": NOW.timestamp(), "iat": NOW.timestamp(), "jti": "j", "sans": ["a.test"]}
claims = mutated_json(_CLAIMS, ("exp", "nbf", "iat", "aud", "jti")).filter(lambda c: isinstance(c, dict))
_AUDIENCES = st.sampled_from((
    "https://ca.test/1.0/sign", "https://ca.test:8443/1.0/sign", "https://[::1]:99999/1.0/sign", "https://[zz/x",
    "https://ca.test:-1/1.0/sign", "http://", "step-certificate-authority", "https://ca.test/1.0/sign#", "#",
)) | st.text(max_size=30)


@given(claims)
@example({"exp": float("nan")})
@example({"exp": float("inf")})
@example({"exp": 2**70})
@example({"exp": -(2**63)})
@example({"exp": 1e308, "nbf": True})
def test_claim_times_check_or_raise_a_typed_error(document: dict[str, Any]) -> None:
    with contextlib.suppress(CAError):
        check_times(document, NOW)
    with contextlib.suppress(CAError):
        check_optional_times(document, NOW, require_exp=False)


@given(claims.map(lambda c: {**c, "aud": c.get("aud")}) | st.lists(_AUDIENCES).map(lambda a: {"aud": a}))
@example({"aud": "https://[::1"})
@example({"aud": ["https://ca.test:0x10/1.0/sign"]})
def test_audiences_match_without_raising(document: dict[str, Any]) -> None:
    accepted = ca_audiences(["ca.test", "::1"], Purpose.SIGN)
    assert isinstance(audience_matches(audiences_of(document), accepted), bool)
    reuse_key(CompactJWS(raw="a.b.c", header={}, claims=document))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@st.composite
def x5c_headers(draw: st.DrawFn) -> dict[str, Any]:
    root, leaf, _ = certificate_chain()
    chain = [cert_der(leaf), cert_der(root)]
    index = draw(st.integers(0, 1))
    chain[index] = draw(st.just(chain[index]) | mutated_bytes(chain[index]))
    entries: list[Any] = [_b64(d) for d in chain]
    if draw(st.booleans()):
        entries.insert(draw(st.integers(0, len(entries))), _b64(cert_der(cert_with_broken_extension())))
    header = {"alg": "ES256", "x5c": entries}
    mutated = draw(st.just(header) | mutated_json(header, ("x5c",)))
    return mutated if isinstance(mutated, dict) else header  # parse_compact only yields object headers


@given(x5c_headers())
@example({"alg": "ES256", "x5c": [_b64(cert_der(certificate_chain()[1])),
                                   _b64(cert_der(cert_with_broken_extension()))]})
@example({"alg": "ES256", "x5c": [_b64(cert_der(cert_with_broken_extension()))]})
@example({"alg": "ES256", "x5c": ["!!"]})
@example({"alg": "ES256", "x5c": [_b64(cert_with_broken_names())]})  # found by make fuzz: ValueError on .issuer
@example({"alg": "ES256", "x5c": [_b64(cert_with_broken_names(expired=True))]})
def test_x5c_tokens_verify_or_raise_a_typed_error(header: dict[str, Any]) -> None:
    """Admin and renew tokens: the chain is read and walked before any signature, so it must never crash."""
    root, _, _ = certificate_chain()
    token = CompactJWS(raw="e30.e30.AA", header=header, claims={})
    try:
        evidence = verify_x5c_token(token, [root], at=datetime.now(UTC))
    except CAError:
        return
    assert evidence.leaf is not None
    certificate_names(evidence.leaf)
    certs.provisioner_of(evidence.leaf)


durations = st.text(st.sampled_from("0123456789.+-hmsuµn"), max_size=24) | st.sampled_from((
    "9" * 30 + "h", "1e9h", "99999999999999999h", "-99999999999999999h", ".h", "1.5h30m", "0", "-0",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "2026-01-01T00:00:00", "2026-02-30T00:00:00Z",
))


@given(durations | st.text(max_size=20))
@example("99999999999999999h")
@example("9" * 30 + "h")
def test_durations_parse_or_raise_a_typed_error(text: str) -> None:
    with contextlib.suppress(CAError):
        parse_duration(text)
    with contextlib.suppress(CAError):
        _requested(text, "notAfter", NOW)
    # A valid duration far past year 9999 overflows the addition: its callers (above, and the CLI) map that.
    with contextlib.suppress(CAError, OverflowError):
        parse_time_or_duration(text, now=NOW)
