"""Hostile requests to the admin API: no token, forged tokens, and garbage bodies sent with a valid admin token.

A valid token is minted per row (they are single-use) from a certificate the CA issued to its first admin, so
the bodies reach the linkedca decoder, provisioner validation, policy parsing and the admin store.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acmeca.cli.admin_credentials import admin_token
from tests.integration.hostile.harness import HostileEnv, Maker, Row, Sent
from tests.support.acme_client import b64

DEEP = b"[" * 50_000 + b"]" * 50_000


def authorized(body: bytes | str | None = None, *, audience_path: str | None = None) -> Maker:
    """The row's body with a fresh, valid admin token for the row's URL (or for ``audience_path``)."""

    async def make(env: HostileEnv, url: str) -> Sent:
        chain, key, subject = env.extras["admin_chain"], env.extras["admin_key"], env.extras["admin_subject"]
        audience = env.base + audience_path if audience_path else url.split("?", 1)[0]
        headers = {"Authorization": admin_token(chain, key, subject=subject, audience=audience),
                   "Content-Type": "application/json"}
        return Sent(body, headers)

    return make


def unreadable_issuer(env: HostileEnv) -> str:
    """The admin's certificate with its issuer's UTF8String tag changed to 13: cryptography loads it and raises
    ValueError only when the issuer is read (found by ``make fuzz`` in the x5c chain walk)."""
    leaf = env.extras["admin_chain"][0]
    cn = leaf.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value.encode()
    der = leaf.public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der.replace(b"\x0c" + bytes([len(cn)]) + cn, b"\x0d" + bytes([len(cn)]) + cn, 1)).decode()


def _x5c_token(header_name: str, prefix: str = "") -> Maker:
    async def make(env: HostileEnv, url: str) -> Sent:
        header = json.dumps({"alg": "ES256", header_name: [unreadable_issuer(env)]}).encode()
        return Sent(None, {"Authorization": prefix + b64(header) + ".e30.AA"})

    return make


def _tokens() -> list[Row]:
    forged = {
        "garbage": "garbage", "bearer": "Bearer abc", "three dots": "a.b.c",
        "alg none": b64(b'{"alg":"none"}') + "." + b64(b'{"sub":"ops"}') + ".",
        "deep header": b64(b"[" * 1000 + b"]" * 1000) + ".e30.AA",
        "x5c garbage": b64(b'{"alg":"ES256","x5c":["!!"]}') + ".e30.AA",
        "x5c not a list": b64(b'{"alg":"ES256","x5c":"MIIB"}') + ".e30.AA",
        "x5c self-signed": b64(json.dumps({"alg": "ES256", "x5c": ["MIIBAA=="]}).encode()) + ".e30.AA",
        "unicode": "\u2603.\u2603.\u2603",
    }
    rows = [Row("admin no token", "GET", "/admin/admins"), Row("admin no token POST", "POST", "/admin/provisioners",
                                                              body=b"{}")]
    rows += [Row(f"admin token: {name}", "GET", "/admin/admins", headers={"Authorization": value})
             for name, value in forged.items()]
    rows.append(Row("admin token: wrong audience", "GET", "/admin/admins",
                    make=authorized(audience_path="/admin/provisioners")))
    rows.append(Row("admin token: x5c issuer unreadable", "GET", "/admin/admins", make=_x5c_token("x5c")))
    rows.append(Row("step renew bearer: x5cInsecure issuer unreadable", "POST", "/1.0/renew",
                    make=_x5c_token("x5cInsecure", "Bearer ")))
    return rows


def _jwk_b64(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


PROVISIONER_BODIES: dict[str, Any] = {
    "not json": b"nope", "deep": DEEP, "array": [], "empty object": {}, "nan": b'{"type": NaN}',
    "type int": {"type": 5, "name": "x"}, "type unknown": {"type": "SCEP", "name": "x"},
    "name int": {"type": "ACME", "name": 5}, "unknown field": {"type": "ACME", "name": "x", "color": "red"},
    "jwk empty key": {"type": "JWK", "name": "h1", "details": {"JWK": {"publicKey": _jwk_b64({})}}},
    "jwk key garbage": {"type": "JWK", "name": "h2", "details": {"JWK": {"publicKey": "!!"}}},
    "jwk key deep": {"type": "JWK", "name": "h3",
                     "details": {"JWK": {"publicKey": base64.b64encode(DEEP[:2000]).decode()}}},
    "duration overflow": {"type": "ACME", "name": "h4",
                          "claims": {"x509": {"durations": {"max": "99999999999999999h"}}}},
    "duration garbage": {"type": "ACME", "name": "h5", "claims": {"x509": {"durations": {"max": "forever"}}}},
    "durations list": {"type": "ACME", "name": "h6", "claims": {"x509": {"durations": []}}},
    "details two types": {"type": "ACME", "name": "h7", "details": {"ACME": {}, "JWK": {}}},
    "x5c roots garbage": {"type": "X5C", "name": "h8", "details": {"X5C": {"roots": ["!!"]}}},
    "x5c roots not pem": {"type": "X5C", "name": "h9", "details": {"X5C": {"roots": [_jwk_b64("x")]}}},
    "webhooks": {"type": "ACME", "name": "h10", "webhooks": [{"name": "w"}]},
    "challenges garbage": {"type": "ACME", "name": "h11", "details": {"ACME": {"challenges": ["NOPE", 7]}}},
    "oidc endpoint garbage": {"type": "OIDC", "name": "h12", "details": {"OIDC": {"configurationEndpoint": "\x00"}}},
    "name unicode": {"type": "ACME", "name": "\u202e\udcff"},
}
POLICY_BODIES: dict[str, Any] = {
    "not json": b"nope", "deep": DEEP, "array": [], "unknown key": {"x509": {}, "pki": {}},
    "ips zone id": {"x509": {"allow": {"ips": ["fe80::1%eth0"]}}},
    "ips garbage": {"x509": {"allow": {"ips": ["x/99"]}}},
    "dns int": {"x509": {"allow": {"dns": [5]}}}, "dns wildcard abuse": {"x509": {"allow": {"dns": ["*.*.test"]}}},
    "emails garbage": {"x509": {"deny": {"emails": ["@@"]}}}, "uris garbage": {"x509": {"deny": {"uris": ["::"]}}},
    "lock out admin": {"x509": {"allow": {"dns": ["only.test"]}}},
    "wildcards string": {"x509": {"allowWildcardNames": "y"}},
}


def _bodies() -> list[Row]:
    def encoded(body: Any) -> bytes | str:
        return body if isinstance(body, bytes) else json.dumps(body)

    rows = [Row(f"admin create provisioner: {name}", "POST", "/admin/provisioners", make=authorized(encoded(body)))
            for name, body in PROVISIONER_BODIES.items()]
    rows += [Row(f"admin update provisioner acme: {name}", "PUT", "/admin/provisioners/acme",
                 make=authorized(encoded(body))) for name, body in list(PROVISIONER_BODIES.items())[:8]]
    rows += [Row(f"admin policy: {name}", "POST", "/admin/policy", make=authorized(encoded(body)))
             for name, body in POLICY_BODIES.items()]
    admins = {"not json": b"{", "subject int": {"subject": 5, "provisioner": "admin"},
              "type garbage": {"subject": "x", "provisioner": "admin", "type": "GOD"},
              "provisioner unknown": {"subject": "x", "provisioner": "nope"}, "deep": DEEP,
              "unknown field": {"subject": "x", "provisioner": "admin", "level": 9},
              "subject lone surrogate": {"subject": "\udcff", "provisioner": "admin"}}
    rows += [Row(f"admin create admin: {name}", "POST", "/admin/admins", make=authorized(encoded(body)))
             for name, body in admins.items()]
    rows += [
        Row("admin update admin: type list", "PATCH", "/admin/admins/nope", make=authorized(b'{"type": []}')),
        Row("admin delete unknown admin", "DELETE", "/admin/admins/nope", make=authorized()),
        Row("admin list: bad paging", "GET", "/admin/admins?cursor=%ff&limit=-1", make=authorized()),
        Row("admin list provisioners: huge limit", "GET", "/admin/provisioners?limit=" + "9" * 40, make=authorized()),
        Row("admin get provisioner: unicode", "GET", "/admin/provisioners/%E2%98%83", make=authorized()),
        Row("admin eab: reference int", "POST", "/admin/acme/eab/acme", make=authorized(b'{"reference": 5}')),
        Row("admin eab: reference lone surrogate", "POST", "/admin/acme/eab/acme",
            make=authorized(b'{"reference": "\\udcff"}')),
        Row("admin eab: reference raw surrogate bytes", "POST", "/admin/acme/eab/acme",
            make=authorized(b'{"reference": "\xed\xb3\xbf"}')),
        Row("admin eab: unknown provisioner", "POST", "/admin/acme/eab/nope", make=authorized(b"{}")),
        Row("admin eab: deep", "POST", "/admin/acme/eab/acme", make=authorized(DEEP)),
        Row("admin renewal-info: garbage", "POST", "/admin/acme/renewal-info", make=authorized(b'{"x": [1]}')),
        Row("admin unknown path", "GET", "/admin/nothing-here", make=authorized()),
        Row("admin method not allowed", "PATCH", "/admin/provisioners", make=authorized(b"{}")),
    ]
    return rows


def admin_rows() -> list[Row]:
    return [*_tokens(), *_bodies()]
