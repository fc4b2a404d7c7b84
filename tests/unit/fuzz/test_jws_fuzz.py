"""Fuzzing the JWS parsers: ACME's flattened form (acme/web/jws.py) and the compact tokens step sends.

Each example starts as a correctly signed JWS with a random protected header and payload and is then bent:
a member replaced by random JSON, dropped or added, a base64url string cut or given a foreign character. The
only allowed outcomes are a parsed value or the parser's typed error (a ``CAError``), never anything else.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from josepy.jwk import JWK
from jwcrypto import jwk as jwcrypto_jwk

from acmeca.acme.web.jws import (
    check_alg_and_key,
    decode_payload,
    parse_flattened,
    parse_key,
    verify_inner,
    verify_signature,
)
from acmeca.domain.errors import CAError
from acmeca.step.jwt import parse_compact, public_jwk, sign_compact
from acmeca.step.jwt import verify_signature as verify_compact
from tests.support.acme_client import AccountKey
from tests.unit.fuzz.strategies import b64url, ec_key, json_bytes, json_values, mutated_json, mutated_text

URL = "https://ca.test/acme/acme/new-order"
_KEY = AccountKey(ec_key())
_ALGS = st.sampled_from(("ES256", "ES384", "RS256", "EdDSA", "none", "None", "HS256", "PS256", "")) | json_values
_JWKS = st.sampled_from((
    _KEY.jwk,
    {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
    {"kty": "EC", "crv": "P-521", "x": _KEY.jwk["x"], "y": _KEY.jwk["y"]},
    {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    {"kty": "RSA", "n": "", "e": ""},
    {"kty": "oct", "k": "c2VjcmV0"},
    {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
    {"kty": "OKP", "crv": "X25519", "x": "AA"},
    {"kty": "OKP", "crv": "Ed25519", "x": "AA"},
    {"kty": "EC", "crv": "P-256", "x": _KEY.jwk["x"], "y": _KEY.jwk["x"]},  # not on the curve
))


@st.composite
def headers(draw: st.DrawFn) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": draw(_ALGS), "url": draw(st.just(URL) | json_values)}
    choice = draw(st.sampled_from(("jwk", "kid", "both", "neither")))
    if choice in ("jwk", "both"):
        header["jwk"] = draw(_JWKS | mutated_json(_KEY.jwk, ("kty", "crv", "x", "y", "n", "e", "d", "alg")))
    if choice in ("kid", "both"):
        header["kid"] = draw(st.text(max_size=20) | st.integers() | st.floats() | json_values)
    if draw(st.booleans()):
        header["nonce"] = draw(st.text(max_size=30) | json_values)
    return draw(mutated_json(header, ("b64", "crit", "typ", "x5c"))) if draw(st.booleans()) else header


@st.composite
def flattened_documents(draw: st.DrawFn) -> Any:
    header = draw(headers())
    payload = draw(st.just("") | json_values.map(lambda v: b64url(json_bytes(v))))
    protected = b64url(json_bytes(header))
    signature = b64url(_KEY.sign(f"{protected}.{payload}".encode()))
    document: dict[str, Any] = {"protected": protected, "payload": payload, "signature": signature}
    field = draw(st.sampled_from(("protected", "payload", "signature", None)))
    if field is not None:
        document[field] = draw(mutated_text(document[field]))
    return draw(mutated_json(document, ("header", "signatures"))) if draw(st.integers(0, 3)) == 0 else document


def _through_the_pipeline(document: Any) -> None:
    jws = parse_flattened(document)
    decode_payload(jws)
    header = jws.protected
    if "jwk" in header:
        key = parse_key(header["jwk"])
        verify_signature(jws, key, check_alg_and_key(header, key))


@given(flattened_documents())
@example({"protected": b64url(b'{"alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}'),
          "payload": "", "signature": "AA"})
@example({"protected": b64url(b"[" * 5000 + b"]" * 5000), "payload": "", "signature": ""})
@example({"protected": b64url(b'{"alg":"ES256"}'), "payload": b64url(b'{"a":NaN}'), "signature": ""})
def test_flattened_jws_parses_or_raises_a_typed_error(document: Any) -> None:
    with contextlib.suppress(CAError):
        _through_the_pipeline(document)


@given(flattened_documents())
def test_key_change_inner_jws_parses_or_raises_a_typed_error(document: Any) -> None:
    with contextlib.suppress(CAError):
        verify_inner(document, outer_url=URL)


@given(_JWKS | mutated_json(_KEY.jwk, ("kty", "crv", "x", "y", "n", "e", "d", "k", "alg")) | json_values)
@example({"kty": "EC", "x": _KEY.jwk["x"], "y": _KEY.jwk["y"]})  # found: josepy KeyError 'crv' (a 500)
@example({"kty": "EC", "crv": "P-256", "x": None, "y": _KEY.jwk["y"]})  # found: AttributeError on null
@example({"kty": "RSA", "e": "AQAB"})  # found: KeyError 'n'
@example({"kty": [], "crv": "P-256", "x": _KEY.jwk["x"], "y": _KEY.jwk["y"]})
def test_jwk_parses_or_raises_a_typed_error(value: Any) -> None:
    try:
        key = parse_key(value)
    except CAError:
        return
    assert key.thumbprint


# -- compact (step OTTs, admin tokens) -----------------------------------------------------------------------------
_STEP_KEY = jwcrypto_jwk.JWK.from_pyca(ec_key())
_VERIFIERS = (public_jwk(json.loads(_STEP_KEY.export_public())), jwcrypto_jwk.JWK.generate(kty="oct", size=256))


@st.composite
def compact_tokens(draw: st.DrawFn) -> str:
    claims = draw(mutated_json({"iss": "jwk", "sub": "a.test", "aud": URL, "exp": 2**31, "sans": ["a.test"]},
                               ("nbf", "iat", "jti", "sha", "cnf")))
    header = draw(mutated_json({"alg": "ES256", "kid": "k", "typ": "JWT"}, ("x5c", "x5cInsecure", "jwk")))
    header.setdefault("alg", "ES256") if isinstance(header, dict) else None
    try:
        token = sign_compact(claims if isinstance(claims, dict) else {"v": claims}, _STEP_KEY,
                             {**header, "alg": "ES256"} if isinstance(header, dict) else {"alg": "ES256"})
    except (ValueError, TypeError):
        token = "e30.e30.AA"
    parts = token.split(".")
    if draw(st.booleans()):
        parts[0] = b64url(json_bytes(header))  # the header as drawn, alg included (none, HS256, ...)
    part = draw(st.integers(0, len(parts) - 1))
    parts[part] = draw(mutated_text(parts[part]))
    joined = ".".join(parts)
    return draw(st.sampled_from((joined, joined + ".x", " " + joined + "\n", joined.replace(".", "..", 1))))


@given(compact_tokens() | st.text(max_size=60))
@example("e30." + b64url(b"[" * 100 + b"]" * 100) + ".AA")
@example(b64url(b'{"alg":"none"}') + "." + b64url(b"{}") + ".")
@example(b64url(b'{"alg":"HS256"}') + "." + b64url(b"{}") + ".AA")
def test_compact_jws_parses_or_raises_a_typed_error(raw: str) -> None:
    try:
        token = parse_compact(raw)
    except CAError:
        return
    for key in _VERIFIERS:
        with contextlib.suppress(CAError):
            verify_compact(token, key)


@given(json_values | mutated_json(json.loads(_STEP_KEY.export_public()), ("kty", "crv", "x", "y", "d", "alg")))
@example({})  # found: jwcrypto KeyError for a missing kty (a 500 on POST /admin/provisioners)
@example({"kty": "XYZ"})
def test_provisioner_jwk_loads_or_raises_value_error(document: Any) -> None:
    """ca.json and admin-API JWK provisioner keys: ``ValueError`` is public_jwk's documented refusal."""
    with contextlib.suppress(ValueError):
        public_jwk(document if isinstance(document, dict) else {"kty": document})


def test_josepy_keys_round_trip_for_the_fixture() -> None:
    """Guard for the strategies: the base JWK is a valid key, so the mutations start from something real."""
    assert parse_key(_KEY.jwk).thumbprint == _KEY.thumbprint
    assert JWK.from_json(_KEY.jwk) is not None
