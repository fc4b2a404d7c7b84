"""Hostile ACME requests: every JWS attack against every POST resource, then each resource's own payload abuse.

The JWS attacks reach the pipeline in jws.py from step 2 (media type) to step 10 (payload): bodies that are not
JSON or too deep, the general and unprotected serializations, bad base64url, ``alg: none``, HS256 keyed with
the public key, kids that are huge, negative or floats, nonce reuse, the wrong url, lone surrogates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from tests.integration.hostile.harness import HostileEnv, Maker, Row, Sent, forged, jose, raw_payload, signed
from tests.support.acme_client import AccountKey, b64, jws

DEEP = b"[" * 15_000 + b"]" * 15_000  # far past the nesting limit, yet (base64 included) under the 64 KiB cap
ENDPOINTS = {
    "newAccount": "/acme/acme/new-account", "newOrder": "/acme/acme/new-order", "order": "{order}",
    "finalize": "{finalize}", "authz": "{authz}", "challenge": "{challenge}", "cert": "{cert}",
    "revoke": "/acme/acme/revoke-cert", "keyChange": "/acme/acme/key-change", "account": "{account}",
    "orders": "{orders}",
}


def _static(body: bytes | str, content_type: str = "application/jose+json") -> Maker:
    async def make(env: HostileEnv, url: str) -> Sent:
        return Sent(body, {"Content-Type": content_type})

    return make


def _header(**changes: Any) -> Maker:
    """A signed request whose protected header is the normal one with ``changes`` (None drops a member)."""

    async def make(env: HostileEnv, url: str) -> Sent:
        header: dict[str, Any] = {"alg": env.client.key.alg, "url": url, "nonce": await env.nonce(),
                                  "kid": env.client.kid}
        for name, value in changes.items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value
        return jose(forged(header, b"{}", env.client.key))

    return make


def _alg_none() -> Maker:
    async def make(env: HostileEnv, url: str) -> Sent:
        header = {"alg": "none", "url": url, "nonce": await env.nonce(), "kid": env.client.kid}
        return jose(forged(header, b"{}", signature=b""))

    return make


def _hs256_with_public_key() -> Maker:
    """Key confusion: MAC the request with the account's public JWK as the HMAC secret."""

    async def make(env: HostileEnv, url: str) -> Sent:
        header = {"alg": "HS256", "url": url, "nonce": await env.nonce(), "kid": env.client.kid}
        protected, payload = b64(json.dumps(header).encode()), b64(b"{}")
        secret = json.dumps(env.client.key.jwk).encode()
        mac = hmac.new(secret, f"{protected}.{payload}".encode(), hashlib.sha256).digest()
        return jose(json.dumps({"protected": protected, "payload": payload, "signature": b64(mac)}))

    return make


def _reused_nonce() -> Maker:
    async def make(env: HostileEnv, url: str) -> Sent:
        return jose(json.dumps(jws(env.client.key, {}, url=url, nonce=env.extras["spent_nonce"], kid=env.client.kid)))

    return make


def _mutated(change: str) -> Maker:
    """A correctly signed request, then one member of the flattened JSON broken."""

    async def make(env: HostileEnv, url: str) -> Sent:
        body = jws(env.client.key, {}, url=url, nonce=await env.nonce(), kid=env.client.kid)
        if change == "padded":
            body["protected"] += "=="
        elif change == "std-alphabet":
            body["signature"] = body["signature"].replace("-", "+").replace("_", "/") + "+/"
        elif change == "flipped":
            body["signature"] = ("A" if body["signature"][0] != "A" else "B") + body["signature"][1:]
        elif change == "general":
            body = {"payload": body["payload"], "signatures": [{"protected": body["protected"],
                                                                 "signature": body["signature"]}]}
        elif change == "unprotected":
            body["header"] = {"kid": "x"}  # type: ignore[assignment]
        elif change == "no-signature":
            del body["signature"]
        elif change == "payload-int":
            body["payload"] = 7  # type: ignore[assignment]
        return jose(json.dumps(body))

    return make


JWS_ATTACKS: list[tuple[str, Maker]] = [
    ("not-json", _static(b"this is not json")),
    ("empty-body", _static(b"")),
    ("json-array", _static(b"[]")),
    ("deep-json-body", _static(DEEP)),
    ("wrong-content-type", _static(b"{}", "application/json")),
    ("invalid-utf8", _static(b'{"protected": "\xff\xfe"}')),
    ("general-serialization", _mutated("general")),
    ("unprotected-header", _mutated("unprotected")),
    ("no-signature", _mutated("no-signature")),
    ("padded-protected", _mutated("padded")),
    ("std-alphabet-signature", _mutated("std-alphabet")),
    ("flipped-signature", _mutated("flipped")),
    ("payload-not-string", _mutated("payload-int")),
    ("protected-not-json", lambda env, url: _const(forged(b"not json", b"{}"))),
    ("protected-deep-json", lambda env, url: _const(forged(b'{"alg":' + DEEP + b"}", b"{}"))),
    ("alg-none", _alg_none()),
    ("hs256-public-key", _hs256_with_public_key()),
    ("alg-mismatch-rs256", _header(alg="RS256")),
    ("alg-number", _header(alg=256)),
    ("kid-huge-int", _header(kid=10**100)),
    ("kid-negative", _header(kid=-1)),
    ("kid-float", _header(kid=1.5)),
    ("kid-unknown-account", _header(kid="https://127.0.0.1/acme/acme/account/nope")),
    ("kid-and-jwk", _header(jwk={"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})),
    ("jwk-without-crv", _header(kid=None, jwk={"kty": "EC", "x": "AA", "y": "AA"})),
    ("no-url", _header(url=None)),
    ("wrong-url", _header(url="https://evil.test/acme/acme/new-order")),
    ("url-lone-surrogate", _header(url="https://\udcff/")),
    ("no-nonce", _header(nonce=None)),
    ("garbage-nonce", _header(nonce="!!not-a-nonce!!")),
    ("reused-nonce", _reused_nonce()),
    ("crit-header", _header(crit=["exp"])),
    ("deep-payload", raw_payload(b'{"a":' + DEEP + b"}")),
    ("nan-payload", raw_payload(b'{"identifiers": NaN, "csr": Infinity}')),
    ("payload-array", raw_payload(b"[1, 2]")),
    ("payload-invalid-utf8", raw_payload(b'{"a": "\xff"}')),
    ("replay-nonce-header", lambda env, url: _with_header(signed({})(env, url), "Replay-Nonce", "x")),
    ("oversized-body", _static(b'{"protected": "' + b"A" * 70_000 + b'"}')),
]


async def _const(body: str) -> Sent:
    return jose(body)


async def _with_header(sent: Any, name: str, value: str) -> Sent:
    done: Sent = await sent
    return Sent(done.body, {**done.headers, name: value})


def _jws_rows() -> list[Row]:
    return [Row(f"acme {endpoint}: {attack}", "POST", path, make=make)
            for endpoint, path in ENDPOINTS.items() for attack, make in JWS_ATTACKS]


IDENTIFIERS: dict[str, Any] = {
    "not-a-list": "a.test", "empty": [], "too-many": [{"type": "dns", "value": f"n{i}.test"} for i in range(1001)],
    "type-email": [{"type": "email", "value": "a@b.test"}], "type-int": [{"type": 1, "value": "a.test"}],
    "value-int": [{"type": "dns", "value": 7}], "value-list": [{"type": "dns", "value": ["a"]}],
    "item-string": ["a.test"], "double-wildcard": [{"type": "dns", "value": "*.*.a.test"}],
    "bare-wildcard": [{"type": "dns", "value": "*"}], "wildcard-ip": [{"type": "dns", "value": "*.10.0.0.1"}],
    "empty-label": [{"type": "dns", "value": "a..test"}], "trailing-dot": [{"type": "dns", "value": "a.test."}],
    "bad-punycode": [{"type": "dns", "value": "xn--.test"}], "long-label": [{"type": "dns", "value": "a" * 64 + ".t"}],
    "long-name": [{"type": "dns", "value": ("a" * 60 + ".") * 5 + "t"}],
    "nul": [{"type": "dns", "value": "a\x00.test"}], "lone-surrogate": [{"type": "dns", "value": "\udcff.test"}],
    "rtl-garbage": [{"type": "dns", "value": "\u202e\u0645\u0631\u062d\u0628\u0627.test"}],
    "ipv6-zone": [{"type": "ip", "value": "fe80::1%eth0"}], "ipv4-zone": [{"type": "ip", "value": "10.0.0.1%1"}],
    "ip-mapped": [{"type": "ip", "value": "::ffff:10.0.0.1"}], "ip-prefix": [{"type": "ip", "value": "10.0.0.0/8"}],
    "ip-leading-zero": [{"type": "ip", "value": "010.0.0.1"}], "ip-upper": [{"type": "ip", "value": "FE80::1"}],
    "ip-as-dns": [{"type": "dns", "value": "10.0.0.1"}], "ip-garbage": [{"type": "ip", "value": "1.2.3.4.5"}],
}
ORDER_FIELDS: dict[str, dict[str, Any]] = {
    "notAfter-garbage": {"notAfter": "tomorrow"}, "notBefore-int": {"notBefore": 5},
    "notAfter-far": {"notAfter": "9999-12-31T23:59:59-23:59"}, "notBefore-naive": {"notBefore": "2026-01-01T00:00:00"},
    "profile-int": {"profile": 123}, "profile-unknown": {"profile": "nope"}, "replaces-garbage": {"replaces": "!!"},
    "replaces-int": {"replaces": 5}, "replaces-empty-serial": {"replaces": "AA.AA"},
}


def _order_rows() -> list[Row]:
    rows = [Row(f"acme newOrder identifiers: {name}", "POST", ENDPOINTS["newOrder"],
                make=signed({"identifiers": value})) for name, value in IDENTIFIERS.items()]
    one = [{"type": "dns", "value": "hostile.test"}]
    rows += [Row(f"acme newOrder: {name}", "POST", ENDPOINTS["newOrder"], make=signed({"identifiers": one, **f}))
             for name, f in ORDER_FIELDS.items()]
    return rows


def _csr_rows() -> list[Row]:
    def mangled(kind: str) -> Maker:
        async def make(env: HostileEnv, url: str) -> Sent:
            der: bytes = env.extras["csr_der"]
            csr: Any = {"truncated": b64(der[: len(der) // 2]),
                        "flipped": b64(der[:40] + bytes([der[40] ^ 1]) + der[41:]),
                        "padded": b64(der) + "==", "std-alphabet": b64(der).replace("-", "+") + "/",
                        "int": 5, "missing": None, "unicode": "\u2603" * 10,
                        "pem": "-----BEGIN CERTIFICATE REQUEST-----", "other-names": b64(env.extras["other_csr_der"]),
                        "version-2-bad-signature": b64(env.extras["v2_csr_der"]),
                        "empty": ""}[kind]
            payload = {} if csr is None else {"csr": csr}
            return await signed(payload)(env, url)

        return make

    kinds = ("truncated", "flipped", "padded", "std-alphabet", "int", "missing", "unicode", "pem", "other-names",
             "version-2-bad-signature", "empty")
    rows = [Row(f"acme finalize csr: {k}", "POST", "{ready_finalize}", make=mangled(k)) for k in kinds]
    rows.append(Row("acme finalize: order not ready", "POST", "{finalize}", make=mangled("other-names")))
    return rows


def _revoke_rows() -> list[Row]:
    def payload(kind: str) -> Maker:
        async def make(env: HostileEnv, url: str) -> Sent:
            der: bytes = env.extras["cert_der"]
            body: dict[str, Any] = {
                "garbage": {"certificate": "!!"}, "truncated": {"certificate": b64(der[:100])},
                "reason-negative": {"certificate": b64(der), "reason": -1},
                "reason-huge": {"certificate": b64(der), "reason": 2**64},
                "reason-string": {"certificate": b64(der), "reason": "keyCompromise"},
                "reason-7": {"certificate": b64(der), "reason": 7},
                "reason-float": {"certificate": b64(der), "reason": 1.5},
                "certificate-list": {"certificate": [b64(der)]},
            }[kind]
            return await signed(body)(env, url)

        return make

    kinds = ("garbage", "truncated", "reason-negative", "reason-huge", "reason-string", "reason-7", "reason-float",
             "certificate-list")
    return [Row(f"acme revokeCert: {k}", "POST", ENDPOINTS["revoke"], make=payload(k)) for k in kinds]


def _key_change_rows() -> list[Row]:
    def inner(kind: str) -> Maker:
        async def make(env: HostileEnv, url: str) -> Sent:
            new = AccountKey.generate()
            good = {"account": env.client.kid, "oldKey": env.client.key.jwk}
            value: Any = {
                "not-object": "x", "deep": {"protected": b64(DEEP), "payload": "", "signature": ""},
                "with-nonce": jws(new, good, url=url, nonce="abc"),
                "wrong-url": jws(new, good, url="https://evil.test/", nonce=None),
                "kid-not-jwk": jws(new, good, url=url, nonce=None, kid="x"),
                "old-key-garbage": jws(new, {"account": env.client.kid, "oldKey": {"kty": 5}}, url=url, nonce=None),
                "account-int": jws(new, {"account": 5, "oldKey": env.client.key.jwk}, url=url, nonce=None),
                "same-key": jws(env.client.key, good, url=url, nonce=None),
            }[kind]
            return await signed(value)(env, url)

        return make

    kinds = ("not-object", "deep", "with-nonce", "wrong-url", "kid-not-jwk", "old-key-garbage", "account-int",
             "same-key")
    return [Row(f"acme keyChange inner: {k}", "POST", ENDPOINTS["keyChange"], make=inner(k)) for k in kinds]


def _account_rows() -> list[Row]:
    new_key = AccountKey.generate()
    payloads: dict[str, tuple[str, Any, bool]] = {
        "contact-ints": ("/acme/acme/new-account", {"contact": [1, 2]}, True),
        "contact-header-fields": ("/acme/acme/new-account", {"contact": ["mailto:a@b.test?subject=x"]}, True),
        "contact-many": ("/acme/acme/new-account", {"contact": [f"mailto:a{i}@b.test" for i in range(100)]}, True),
        "contact-tel": ("/acme/acme/new-account", {"contact": ["tel:+15555555"]}, True),
        "tos-string": ("/acme/acme/new-account", {"termsOfServiceAgreed": "yes", "contact": "mailto:a@b"}, True),
        "only-existing-unknown": ("/acme/acme/new-account", {"onlyReturnExisting": True}, True),
        "eab-garbage": ("/acme/eab/new-account", {"externalAccountBinding": {"protected": "!!"}}, True),
        "eab-alg-list": ("/acme/eab/new-account", {"externalAccountBinding": {
            "protected": b64(b'{"alg": [], "kid": "x"}'), "payload": "", "signature": ""}}, True),
        "eab-not-object": ("/acme/eab/new-account", {"externalAccountBinding": [1]}, True),
        "update-status-garbage": ("{account}", {"status": "revoked"}, False),
        "update-contact-garbage": ("{account}", {"contact": "mailto:a@b"}, False),
        "contact-lone-surrogate": ("/acme/acme/new-account", {"contact": ["mailto:a\udcff@b.test"]}, True),
        "update-contact-lone-surrogate": ("{account}", {"contact": ["mailto:\ud800@b.test"]}, False),
    }
    return [Row(f"acme account: {name}", "POST", path, make=signed(body, key=new_key if jwk else None))
            for name, (path, body, jwk) in payloads.items()]


def _resource_rows() -> list[Row]:
    gets = {
        "directory unknown provisioner": "/acme/nope/directory", "directory traversal": "/acme/%2e%2e/directory",
        "directory bad percent": "/acme/%zz/directory", "renewalInfo garbage": "/acme/acme/renewal-info/!!",
        "renewalInfo padded": "/acme/acme/renewal-info/AA==.AA==",
        "renewalInfo zero serial": "/acme/acme/renewal-info/AA.AA",
        "renewalInfo negative serial": "/acme/acme/renewal-info/AA.gA",
        "renewalInfo three parts": "/acme/acme/renewal-info/a.b.c",
        "renewalInfo huge": "/acme/acme/renewal-info/" + "A" * 5000 + ".AQ",
        "renewalInfo unicode": "/acme/acme/renewal-info/%E2%98%83.%E2%98%83",
        "renewalInfo unknown": "/acme/acme/renewal-info/AAAA.AQ",
        "renewalInfo bare": "/acme/acme/renewal-info", "new-nonce unknown provisioner": "/acme/nope/new-nonce",
        "2.0 directory garbage": "/2.0/acme/%00/directory",
    }
    rows = [Row(f"acme GET {name}", "GET", path) for name, path in gets.items()]
    rows += [Row(f"acme {m} directory", m, "/acme/acme/directory") for m in ("PUT", "DELETE", "PATCH", "OPTIONS")]
    rows += [Row("acme HEAD new-nonce", "HEAD", "/acme/acme/new-nonce"),
             Row("acme plain GET order", "GET", "{order}"), Row("acme plain GET cert", "GET", "{cert}"),
             Row("acme POST directory garbage", "POST", "/acme/acme/directory", body=DEEP)]
    posts = {"cert unknown serial": "/acme/acme/certificate/abc", "cert negative serial": "/acme/acme/certificate/-1",
             "cert huge serial": "/acme/acme/certificate/" + "9" * 400,
             "cert chain index huge": "{cert}/99999999999999999999",
             "cert chain index negative": "{cert}/-1", "order unknown": "/acme/acme/order/nope",
             "authz unknown": "/acme/acme/authz/nope", "challenge unknown": "/acme/acme/challenge/nope/nope",
             "orders cursor garbage": "{orders}?cursor=abc", "orders cursor negative": "{orders}?cursor=-1",
             "orders cursor huge": "{orders}?cursor=99999999999999999999999",
             "account other": "/acme/acme/account/nope"}
    rows += [Row(f"acme POST-as-GET {name}", "POST", path, make=signed(None)) for name, path in posts.items()]
    return rows


def acme_rows() -> list[Row]:
    return [*_jws_rows(), *_order_rows(), *_csr_rows(), *_revoke_rows(), *_key_change_rows(), *_account_rows(),
            *_resource_rows()]
