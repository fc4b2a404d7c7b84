"""Hostile requests to the step token API: /1.0/sign bodies and tokens, renew, rekey, revoke, trust endpoints, CRL.

Tokens are the interesting part: the suite holds the JWK provisioner's private key, so it can send tokens that
are correctly signed but carry garbage claims (NaN expiry, sans of the wrong types, huge nbf), besides the
classic forgeries (``alg: none``, HS256 keyed with the public key, expired, wrong audience).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from jwcrypto import jwk

from tests.integration.hostile.harness import HostileEnv, Maker, Row, Sent
from tests.support.acme_client import b64

DEEP = b"[" * 50_000 + b"]" * 50_000


def _json(body: Any) -> Sent:
    return Sent(json.dumps(body), {"Content-Type": "application/json"})


def token(env: HostileEnv, *, header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None,
          drop: tuple[str, ...] = (), signer: str = "key", raw_claims: bytes | None = None) -> str:
    """A JWK provisioner token for ``hostile.test``, with claims changed, signed by the provisioner's key."""
    key: jwk.JWK = env.extras["provisioner_key"]
    now = int(time.time())
    body: dict[str, Any] = {"iss": "admin", "aud": f"{env.base}/1.0/sign", "sub": "hostile.test",
                            "sans": ["hostile.test"], "nbf": now, "iat": now, "exp": now + 300,
                            "jti": base64.b16encode(now.to_bytes(8, "big")).decode() + str(id(claims))}
    body.update(claims or {})
    for name in drop:
        body.pop(name, None)
    protected = {"alg": "ES256", "kid": key.thumbprint(), "typ": "JWT", **(header or {})}
    head = b64(json.dumps(protected).encode())
    payload = b64(raw_claims if raw_claims is not None else json.dumps(body).encode())
    signing_input = f"{head}.{payload}".encode()
    if signer == "none":
        signature = b""
    elif signer == "hs256-public":
        signature = hmac.new(key.export_public().encode(), signing_input, hashlib.sha256).digest()
    else:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        der = key.get_op_key("sign").sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{head}.{payload}.{b64(signature)}"


def _sign(csr: str = "good", **token_knobs: Any) -> Maker:
    async def make(env: HostileEnv, url: str) -> Sent:
        pem = env.extras["csr_pem"] if csr == "good" else csr
        return _json({"csr": pem, "ott": token(env, **token_knobs)})

    return make


def _sign_body(body: dict[str, Any]) -> Maker:
    async def make(env: HostileEnv, url: str) -> Sent:
        return _json({"csr": env.extras["csr_pem"], "ott": token(env), **body})

    return make


def _sign_rows() -> list[Row]:
    static = {
        "not json": b"garbage", "empty": b"", "array": b"[]", "deep": DEEP, "csr int": b'{"csr": 5, "ott": "x"}',
        "nan": b'{"csr": NaN}', "invalid utf8": b'{"csr": "\xff"}', "ott list": b'{"csr": "x", "ott": ["a"]}',
    }
    rows = [Row(f"step sign body: {name}", "POST", "/1.0/sign", body=body) for name, body in static.items()]
    tokens: dict[str, Maker] = {
        "alg none": _sign(signer="none", header={"alg": "none"}),
        "hs256 with the public key": _sign(signer="hs256-public", header={"alg": "HS256"}),
        "expired": _sign(claims={"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200}),
        "wrong aud": _sign(claims={"aud": "https://evil.test/1.0/sign"}),
        "aud int": _sign(claims={"aud": 5}),
        "exp nan": _sign(raw_claims=b'{"iss":"admin","aud":"https://127.0.0.1/1.0/sign","sub":"x","exp":NaN}'),
        "exp huge": _sign(claims={"exp": 10**30}),
        "exp infinity": _sign(raw_claims=b'{"iss":"admin","sub":"x","exp":Infinity}'),
        "nbf far future": _sign(claims={"nbf": 2**62}),
        "sub empty": _sign(claims={"sub": ""}),
        "sub lone surrogate": _sign(claims={"sub": "\udcff", "sans": ["hostile.test"]}),
        "jti lone surrogate": _sign(claims={"jti": "\udcff"}),
        "sub int": _sign(claims={"sub": 5}),
        "sans ints": _sign(claims={"sans": [1, 2]}),
        "sans zone id": _sign(claims={"sans": ["fe80::1%eth0"]}),
        "sans mapped ip": _sign(claims={"sans": ["::ffff:10.0.0.1"]}),
        "sans bad idna": _sign(claims={"sans": ["xn--.test"]}),
        "sans wildcard abuse": _sign(claims={"sans": ["*.*.test"]}),
        "deep header": _sign(header={"x": json.loads("[" * 40 + "]" * 40)}),
        "deep claims": _sign(raw_claims=b'{"sub":' + DEEP + b"}"),
        "kid unknown": _sign(header={"kid": "nope"}),
        "kid int": _sign(header={"kid": 5}),
        "x5c garbage, names not the CSR's": _sign(header={"x5c": ["!!", 5]},
                                                  claims={"sub": "other.test", "sans": ["other.test"]}),
        "iss unknown": _sign(claims={"iss": "nobody"}),
        "cnf garbage": _sign(claims={"cnf": {"x5rt#S256": 5}}),
        "bad csr pem": _sign(csr="-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"),
        "csr not pem": _sign(csr="hello"),
        "not a token": lambda env, url: _const(_json({"csr": env.extras["csr_pem"], "ott": "a.b.c"})),
        "token two parts": lambda env, url: _const(_json({"csr": env.extras["csr_pem"], "ott": "a.b"})),
        "token unicode": lambda env, url: _const(_json({"csr": env.extras["csr_pem"], "ott": "\u2603.\u2603.\u2603"})),
    }
    rows += [Row(f"step sign token: {name}", "POST", "/1.0/sign", make=make) for name, make in tokens.items()]
    fields = {"notAfter overflow": {"notAfter": "99999999999999999h"}, "notAfter garbage": {"notAfter": "soon"},
              "notBefore int": {"notBefore": 5}, "notAfter far": {"notAfter": "9999-12-31T23:59:59-23:59"},
              "notBefore naive": {"notBefore": "2026-01-01T00:00:00"}}
    rows += [Row(f"step sign: {name}", "POST", "/1.0/sign", make=_sign_body(body)) for name, body in fields.items()]
    return rows


async def _const(sent: Sent) -> Sent:
    return sent


def _other_rows() -> list[Row]:
    rows = [
        Row("step renew without a client certificate", "POST", "/1.0/renew"),
        Row("step renew garbage bearer", "POST", "/1.0/renew", headers={"Authorization": "Bearer garbage"}),
        Row("step renew bearer alg none", "POST", "/1.0/renew",
            headers={"Authorization": "Bearer " + b64(b'{"alg":"none","x5cInsecure":["AA"]}') + ".e30."}),
        Row("step renew bearer deep", "POST", "/1.0/renew",
            headers={"Authorization": "Bearer " + b64(b"[" * 1000 + b"]" * 1000) + ".e30.AA"}),
        Row("step renew bearer x5cInsecure garbage", "POST", "/1.0/renew",
            headers={"Authorization": "Bearer " + b64(b'{"alg":"ES256","x5cInsecure":["!!", 5]}') + ".e30.AA"}),
        Row("step rekey without a client certificate", "POST", "/1.0/rekey", body=b'{"csr": "x"}'),
        Row("step re-sign without a client certificate", "POST", "/1.0/re-sign"),
    ]
    revokes = {"not json": b"nope", "deep": DEEP, "serial list": b'{"serial": []}',
               "serial garbage": b'{"serial": "abc", "ott": "garbage"}',
               "reason string": b'{"serial": "1", "reasonCode": "x"}',
               "reason huge": b'{"serial": "1", "reasonCode": 100000000000000000000000}',
               "serial negative": b'{"serial": -5, "ott": "a.b.c"}',
               "serial huge": b'{"serial": "' + b"9" * 500 + b'"}',
               "passive string": b'{"serial": "1", "passive": "no"}', "no credentials": b'{"serial": "1"}'}
    rows += [Row(f"step revoke: {name}", "POST", "/1.0/revoke", body=body) for name, body in revokes.items()]
    gets = {
        "root garbage": "/root/garbage", "root traversal": "/root/..%2F..%2Fetc%2Fpasswd",
        "root unknown sha": "/1.0/root/" + "0" * 64, "root unicode": "/root/%E2%98%83",
        "root huge": "/root/" + "a" * 8000, "root bad percent": "/root/%ff%fe",
        "provisioners cursor garbage": "/provisioners?cursor=garbage&limit=-1",
        "provisioners limit text": "/1.0/provisioners?limit=abc",
        "provisioners limit huge": "/provisioners?limit=" + "9" * 40,
        "provisioners cursor bad percent": "/provisioners?cursor=%ff",
        "encrypted key garbage": "/provisioners/%00/encrypted-key",
        "encrypted key unknown": "/1.0/provisioners/nope/encrypted-key", "crl pem": "/1.0/crl?pem", "crl": "/crl",
        "unknown step path": "/1.0/ssh/sign", "health query garbage": "/health?%zz",
    }
    rows += [Row(f"step GET {name}", "GET", path) for name, path in gets.items()]
    rows += [Row(f"step {m} {p}", m, p) for m, p in (("POST", "/1.0/crl"), ("DELETE", "/1.0/sign"),
                                                     ("PUT", "/roots"), ("OPTIONS", "/1.0/sign"), ("HEAD", "/health"))]
    return rows


def step_rows() -> list[Row]:
    return [*_sign_rows(), *_other_rows()]
