"""The wire format against the real server, with tokens minted independently of our CLI and crypto code.

The provisioner key is decrypted and the token signed with jwcrypto directly, following stepca.md §2.1 and
§2.7, so a bug shared by our minting and our verification cannot hide.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto import jwa, jwe, jwk, jws

from tests.support.ca_server import PASSWORD, CAServer, init_ca
from tests.support.databases import fresh_db_config
from tests.support.https import Reply, call

jwa.default_max_pbkdf2_iterations = 1_000_000  # step-ca's p2c is 600000, above jwcrypto's default cap


@pytest.fixture(scope="module")
def wire_ca(module_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CAServer]:
    """One CA per backend for this module: every test here leaves the CA usable for the next."""
    directory = tmp_path_factory.mktemp("wire")
    db, drop = fresh_db_config(module_backend, directory, exclusive=True)
    server = init_ca(directory / "ca", db)
    server.edit_config(lambda d: d["authority"].update(claims={"minTLSCertDuration": "10s"}))
    server.start()
    yield server
    assert server.stop() == 0, server.log()
    drop()


def provisioner_key(server: CAServer) -> tuple[jwk.JWK, str]:
    document = next(p for p in server.config()["authority"]["provisioners"] if p["type"] == "JWK")
    token = jwe.JWE()
    token.deserialize(document["encryptedKey"], key=jwk.JWK.from_password(PASSWORD))
    return jwk.JWK(**json.loads(token.payload)), document["key"]["kid"]


def mint(server: CAServer, subject: str, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    key, kid = provisioner_key(server)
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": "admin", "aud": f"https://localhost:{server.port}/1.0/sign", "sub": subject, "sans": [subject],
        "nbf": now, "iat": now, "exp": now + 300, "jti": secrets.token_hex(32), "sha": server.fingerprint(),
    }
    body.update(claims)
    protected = {"alg": "ES256", "kid": kid, "typ": "JWT", **(header or {})}
    token = jws.JWS(json.dumps(body).encode())
    token.add_signature(key, alg="ES256", protected=json.dumps(protected))
    return str(token.serialize(compact=True))


def csr_pem(subject: str, names: list[str]) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def sign(server: CAServer, body: Any, path: str = "/1.0/sign") -> Reply:
    return call(f"{server.url}{path}", root=server.root_path, method="POST", body=body)


def test_independent_token_and_sign_response_shape(wire_ca: CAServer) -> None:
    reply = sign(wire_ca, {"csr": csr_pem("wire.local", ["wire.local"]), "ott": mint(wire_ca, "wire.local"),
                           "notAfter": "1h"}, path="/sign")
    assert reply.status == 201, reply.body
    body = reply.json()
    assert list(body) == ["crt", "ca", "certChain", "tlsOptions"]
    assert body["certChain"][0] == body["crt"]
    assert body["certChain"][1] == body["ca"]
    assert body["ca"] == (wire_ca.home / "certs" / "intermediate_ca.crt").read_text()
    assert set(body["tlsOptions"]) == {"cipherSuites", "minVersion", "maxVersion", "renegotiation"}
    assert body["tlsOptions"]["renegotiation"] is False
    crt = x509.load_pem_x509_certificate(body["crt"].encode())
    assert crt.subject.rfc4514_string() == "CN=wire.local"


def _signed_with_alg_none(server: CAServer) -> str:
    payload = mint(server, "n.local").split(".")[1]
    none = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    return f"{none}.{payload}."


def _tampered(server: CAServer) -> str:
    header, _, signature = mint(server, "t.local").split(".")
    payload = mint(server, "other.local").split(".")[1]
    return f"{header}.{payload}.{signature}"


UNAUTHORIZED = "The request lacked necessary authorization to be completed: "


@pytest.mark.parametrize(
    ("make", "subject", "status", "message"),
    [
        (lambda s: mint(s, "x.local", exp=int(time.time()) - 120), "x.local", 401,
         UNAUTHORIZED + "invalid token: token is expired (exp)."),
        (lambda s: mint(s, "x.local", aud="https://localhost/1.0/revoke"), "x.local", 401,
         UNAUTHORIZED + "provisioner not found or invalid audience (https://localhost/1.0/revoke)."),
        (lambda s: mint(s, "x.local", iss="intruder"), "x.local", 401,
         UNAUTHORIZED + "provisioner not found or invalid audience (https://localhost:{port}/1.0/sign)."),
        (_signed_with_alg_none, "n.local", 401, UNAUTHORIZED + "invalid token: unsigned tokens are not accepted."),
        (_tampered, "other.local", 401, UNAUTHORIZED + "invalid token: the signature does not verify."),
        (lambda s: mint(s, "x.local", sans=["y.local"]), "x.local", 403,
         "The request was forbidden by the certificate authority: certificate request does not contain the valid "
         "DNS names - got [x.local], want [y.local]."),
    ],
)
def test_bad_tokens_get_step_status_and_message(
    wire_ca: CAServer, make: Any, subject: str, status: int, message: str
) -> None:
    reply = sign(wire_ca, {"csr": csr_pem(subject, [subject]), "ott": make(wire_ca)})
    assert reply.status == status
    assert reply.json() == {"status": status, "message": message.format(port=wire_ca.port)}


def test_replayed_token_is_refused(wire_ca: CAServer) -> None:
    token = mint(wire_ca, "r.local")
    assert sign(wire_ca, {"csr": csr_pem("r.local", ["r.local"]), "ott": token}).status == 201
    again = sign(wire_ca, {"csr": csr_pem("r.local", ["r.local"]), "ott": token})
    assert again.json() == {"status": 401, "message": UNAUTHORIZED + "token already used."}


def test_replay_protection_survives_a_restart(wire_ca: CAServer) -> None:
    token = mint(wire_ca, "r.local")
    assert sign(wire_ca, {"csr": csr_pem("r.local", ["r.local"]), "ott": token}).status == 201
    wire_ca.restart()
    assert sign(wire_ca, {"csr": csr_pem("r.local", ["r.local"]), "ott": token}).status == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "error reading request body"),
        ([1, 2], "error reading request body"),
        ({}, "missing csr"),
        ({"csr": "garbage"}, "invalid csr"),
        ({"csr": None, "ott": "x"}, "missing csr"),
    ],
)
def test_malformed_sign_requests(wire_ca: CAServer, body: Any, message: str) -> None:
    reply = sign(wire_ca, body)
    assert reply.json() == {"status": 400, "message": f"The request could not be completed: {message}."}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "The request could not be completed: missing serial."),
        ({"serial": "1", "reasonCode": 12}, 400, "The request could not be completed: reasonCode out of bounds."),
        ({"serial": "1", "passive": False}, 501, "non-passive revocation not implemented"),
        ({"serial": "1"}, 400, "The request could not be completed: missing ott or client certificate."),
        ({"serial": "1", "ott": "a.b.c"}, 401, UNAUTHORIZED + "invalid token: the header is not base64url JSON."),
    ],
)
def test_revoke_bad_requests(wire_ca: CAServer, body: dict[str, Any], status: int, message: str) -> None:
    reply = sign(wire_ca, body, path="/1.0/revoke")
    assert reply.json() == {"status": status, "message": message}


def test_revoke_unknown_serial(wire_ca: CAServer) -> None:
    ott = mint(wire_ca, "4242", aud=f"https://localhost:{wire_ca.port}/1.0/revoke", sans=None)
    reply = sign(wire_ca, {"serial": "4242", "ott": ott}, path="/revoke")
    assert reply.json() == {"status": 404, "message": "certificate with serial number 4242 not found"}


def test_sign_refuses_a_fermat_factorable_key_with_the_reason(wire_ca: CAServer) -> None:
    """Known-weak keys are refused by the engine like any key policy failure: 403, as step-ca answers those."""
    from tests.support.weak_rsa import fermat_private_key

    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak.local")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("weak.local")]), critical=False)
        .sign(fermat_private_key(), hashes.SHA256())
    ).public_bytes(serialization.Encoding.PEM).decode()
    reply = sign(wire_ca, {"csr": csr, "ott": mint(wire_ca, "weak.local"), "notAfter": "1h"})
    assert reply.status == 403, reply.body
    assert reply.json()["message"] == (
        "The request was forbidden by the certificate authority: the public key is known to be weak: "
        "its primes are close enough for Fermat factorization."
    )
