"""The JWS pipeline of RFC 8555 §6.2–6.5, in the order of acme.md §1.4.

1 method (the router answers 405) → 2 media type (415) → 3 size cap (413) and flattened-JSON shape →
4 protected header (alg, nonce, url, exactly one of jwk|kid; kid resolves to a live account) →
5 alg allow-list, matching the key → 6 key policy → 7 signature → 8 exact url → 9 nonce (after the signature,
so forged requests cannot burn nonces) → 10 payload (``""`` is POST-as-GET, else a JSON object).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiohttp import web
from josepy.errors import DeserializationError
from josepy.jwa import ES256, ES384, RS256, JWASignature
from josepy.jwk import JWK, JWKOct

from acmeca.crypto.jose import EdDSA, jws_algorithm_for, okp_public_key, thumbprint
from acmeca.crypto.keypolicy import KeyRejected, check_public_key
from acmeca.domain.acme import AccountRecord
from acmeca.domain.encoding import b64url_decode
from acmeca.domain.errors import (
    AccountDoesNotExist,
    BadPublicKey,
    BadSignatureAlgorithm,
    Malformed,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from acmeca.domain.json_limits import loads_limited

MAX_BODY = 64 * 1024
JOSE_MEDIA_TYPE = "application/jose+json"
ALGORITHMS: dict[str, JWASignature] = {"RS256": RS256, "ES256": ES256, "ES384": ES384, "EdDSA": EdDSA}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
# josepy indexes these without checking them (KeyError, AttributeError on null): check them before it reads them.
_REQUIRED_MEMBERS = {"EC": ("crv", "x", "y"), "RSA": ("n", "e")}


class KeyMode(Enum):
    JWK = "jwk"  # newAccount
    KID = "kid"  # everything bound to an account
    EITHER = "either"  # revokeCert


@dataclass(frozen=True)
class JWSKey:
    public_key: Any
    jwk: dict[str, Any]  # public members only, as stored
    thumbprint: str


@dataclass(frozen=True)
class VerifiedJWS:
    protected: dict[str, Any]
    payload: dict[str, Any] | None  # None: POST-as-GET
    key: JWSKey
    account: AccountRecord | None  # set when the request used kid


AccountLookup = Callable[[str], Awaitable[AccountRecord]]  # kid URL -> live account (raises)
NonceRedeemer = Callable[[object], Awaitable[None]]


def b64decode(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise Malformed(f"{what} must be a base64url string")
    if "=" in value:
        raise Malformed(f"{what} must be base64url without padding")
    try:
        return b64url_decode(value)
    except ValueError:
        raise Malformed(f"{what} is not valid base64url") from None


def parse_key(jwk: object) -> JWSKey:
    """A public JWK → key; private members are refused (a client leaking its key is told so)."""
    if not isinstance(jwk, dict):
        raise Malformed("jwk must be a JSON object")
    if any(m in jwk for m in _PRIVATE_MEMBERS):
        raise Malformed("jwk must hold a public key only")
    try:
        canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        raise Malformed("jwk is not valid JSON") from None
    return _parse_canonical_key(canonical)


@functools.lru_cache(maxsize=4096)
def _parse_canonical_key(canonical: str) -> JWSKey:
    """Parsing a JWK into a key object costs more than verifying the signature: every account's key is
    parsed on each of its requests, so keep the recently used ones (immutable: a rolled-over account has a
    new key, hence a new entry)."""
    jwk = json.loads(canonical)
    if not isinstance(jwk.get("kty"), str):
        raise Malformed("jwk needs a kty string")
    if jwk["kty"] == "OKP":
        key: Any = okp_public_key(jwk)
        public = {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}
    else:
        for member in _REQUIRED_MEMBERS.get(jwk["kty"], ()):
            if not isinstance(jwk.get(member), str):
                raise Malformed(f"jwk member {member} must be a base64url string")
        try:
            parsed = JWK.from_json(jwk)
        except (DeserializationError, ValueError, TypeError):
            raise Malformed("jwk is not a valid RSA or EC public key") from None
        if not isinstance(parsed, JWK) or isinstance(parsed, JWKOct):
            raise BadPublicKey("symmetric keys cannot sign ACME requests")
        public = parsed.public_key().to_partial_json()
        key = parsed.key._wrapped if hasattr(parsed.key, "_wrapped") else parsed.key
    return JWSKey(public_key=key, jwk=public, thumbprint=thumbprint(public))


_ACCOUNT_KEYS_MAX = 4096
_account_keys: dict[str, JWSKey] = {}  # by key thumbprint: parsed account keys, see account_key()


def account_key(account: AccountRecord) -> JWSKey:
    """The key of an account just read from the database, parsed once per key rather than per request.

    Keyed by the stored thumbprint, which names exactly one key: a key rollover (here or in another process)
    gives the row a new thumbprint, so the freshly read row never meets an old entry. What must not be stale,
    the account's status and current key, is still read from the database on every request.
    """
    cached = _account_keys.get(account.key_thumbprint)
    if cached is not None:
        return cached
    key = parse_key(account.jwk)
    if key.thumbprint != account.key_thumbprint:  # never for rows we wrote; do not cache a mismatch
        return key
    if len(_account_keys) >= _ACCOUNT_KEYS_MAX:
        _account_keys.pop(next(iter(_account_keys)))  # the oldest entry
    _account_keys[account.key_thumbprint] = key
    return key


@dataclass(frozen=True)
class Flattened:
    protected_b64: str
    payload_b64: str
    signature: bytes
    protected: dict[str, Any]

    @property
    def signing_input(self) -> bytes:
        return f"{self.protected_b64}.{self.payload_b64}".encode("ascii")


def parse_flattened(document: object) -> Flattened:
    """Flattened JSON serialization only: no general form, no unprotected header, no detached payload."""
    if not isinstance(document, dict):
        raise Malformed("the request body must be a flattened JWS JSON object")
    if "signatures" in document:
        raise Malformed("the general JWS serialization is not accepted; use the flattened form")
    if "header" in document:
        raise Malformed("unprotected JWS headers are not accepted")
    if set(document) != {"protected", "payload", "signature"}:
        raise Malformed("a JWS needs exactly protected, payload and signature")
    protected_b64, payload_b64 = document["protected"], document["payload"]
    if not isinstance(protected_b64, str) or not isinstance(payload_b64, str) or not protected_b64:
        raise Malformed("protected and payload must be base64url strings")
    b64decode(payload_b64, "payload")
    signature = b64decode(document["signature"], "signature")
    try:
        protected = loads_limited(b64decode(protected_b64, "protected header"))
    except ValueError:
        raise Malformed("the protected header is not JSON") from None
    if not isinstance(protected, dict):
        raise Malformed("the protected header must be a JSON object")
    if "b64" in protected or "crit" in protected:
        raise Malformed("the b64 and crit header parameters are not supported")
    return Flattened(protected_b64, payload_b64, signature, protected)


def check_alg_and_key(protected: dict[str, Any], key: JWSKey) -> JWASignature:
    """Steps 5 and 6: an allowed alg matching the key type and curve, then key policy."""
    alg = protected.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise BadSignatureAlgorithm(f"JWS algorithm {alg!r} is not supported", algorithms=list(ALGORITHMS))
    if jws_algorithm_for(key.public_key) != alg:
        raise BadSignatureAlgorithm(f"JWS algorithm {alg} does not match the key", algorithms=list(ALGORITHMS))
    jwk_alg = key.jwk.get("alg")
    if jwk_alg is not None and jwk_alg != alg:
        raise BadSignatureAlgorithm("the JWK's alg does not match the JWS alg", algorithms=list(ALGORITHMS))
    try:
        check_public_key(key.public_key)
    except KeyRejected as exc:
        raise BadPublicKey(str(exc)) from None
    return ALGORITHMS[alg]


def verify_signature(jws: Flattened, key: JWSKey, algorithm: JWASignature) -> None:
    try:
        valid = algorithm.verify(key.public_key, jws.signing_input, jws.signature)
    except Exception:  # josepy raises assorted errors for malformed signatures
        valid = False
    if not valid:
        raise Malformed("JWS signature is invalid")


def decode_payload(jws: Flattened) -> dict[str, Any] | None:
    if jws.payload_b64 == "":
        return None
    try:
        payload = loads_limited(b64decode(jws.payload_b64, "payload"))
    except ValueError:
        raise Malformed("the JWS payload is not JSON") from None
    if not isinstance(payload, dict):
        raise Malformed("the JWS payload must be a JSON object")
    return payload


async def read_body(request: web.Request) -> bytes:
    """Step 2 and 3: the media type (compared without parameters) and a hard size cap."""
    if request.content_type.lower() != JOSE_MEDIA_TYPE:
        raise UnsupportedMediaType(f"Content-Type must be {JOSE_MEDIA_TYPE}")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise PayloadTooLarge(f"the request body exceeds {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.content.iter_chunked(16384):
        body.extend(chunk)
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"the request body exceeds {MAX_BODY} bytes")
    return bytes(body)


def request_url(request: web.Request) -> str:
    """The URL the client was told to use: always https, from the Host the client sent."""
    return f"https://{request.host}{request.raw_path}"


async def verify_request(
    request: web.Request, *, mode: KeyMode, find_account: AccountLookup, redeem_nonce: NonceRedeemer
) -> VerifiedJWS:
    body = await read_body(request)
    if "Replay-Nonce" in request.headers:  # nonces travel in the JWS only (Boulder and Pebble refuse this too)
        raise Malformed("a Replay-Nonce request header is not allowed; put the nonce in the JWS header")
    try:
        document = loads_limited(body)
    except ValueError:
        raise Malformed("the request body is not JSON") from None
    jws = parse_flattened(document)
    header = jws.protected
    for name in ("alg", "url"):  # a missing nonce is badNonce, found at step 9
        if name not in header:
            raise Malformed(f"the protected header has no {name}")
    has_jwk, has_kid = "jwk" in header, "kid" in header
    if has_jwk == has_kid:
        raise Malformed("the protected header needs exactly one of jwk and kid")
    if mode is KeyMode.JWK and not has_jwk:
        raise Malformed("this request must be signed with a jwk, not a kid")
    if mode is KeyMode.KID and not has_kid:
        raise Malformed("this request must be signed with an account kid, not a jwk")
    account: AccountRecord | None = None
    if has_kid:
        if not isinstance(header["kid"], str):
            raise AccountDoesNotExist("kid must be an account URL")
        account = await find_account(header["kid"])
        key = account_key(account)
    else:
        key = parse_key(header["jwk"])
    algorithm = check_alg_and_key(header, key)
    verify_signature(jws, key, algorithm)
    if header["url"] != request_url(request):
        raise Unauthorized("the JWS url does not match the request URL")
    await redeem_nonce(header.get("nonce"))
    return VerifiedJWS(protected=header, payload=decode_payload(jws), key=key, account=account)


def verify_inner(document: object, *, outer_url: str) -> tuple[JWSKey, dict[str, Any]]:
    """keyChange's inner JWS (§7.3.5): signed by the new key via jwk, same url, no nonce."""
    jws = parse_flattened(document)
    header = jws.protected
    if "jwk" not in header or "kid" in header:
        raise Malformed("the inner JWS must carry the new key as jwk")
    if "nonce" in header:
        raise Malformed("the inner JWS must not carry a nonce")
    if header.get("url") != outer_url:
        raise Malformed("the inner JWS url must equal the outer url")
    key = parse_key(header["jwk"])
    verify_signature(jws, key, check_alg_and_key(header, key))
    payload = decode_payload(jws)
    if payload is None:
        raise Malformed("the inner JWS payload must be a JSON object")
    return key, payload
