"""OIDC and K8sSA provisioners added through the admin API, then used at /1.0/sign (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
import ssl
import time
from pathlib import Path

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jws

from tests.integration.admin.conftest import SUPER, AdminCA
from tests.support.oidc_issuer import OIDCIssuer

CLIENT_ID = "acmeca-test-client"


def csr_pem(common_name: str, *, dns: list[str] = (), emails: list[str] = ()) -> str:  # type: ignore[assignment]
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns] + [x509.RFC822Name(e) for e in emails]
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    from cryptography.hazmat.primitives import hashes

    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


async def sign(admin_ca: AdminCA, csr: str, ott: str) -> tuple[int, dict[str, object]]:
    context = ssl.create_default_context(cafile=str(admin_ca.server.root_path))
    async with aiohttp.ClientSession() as session, session.post(
        f"{admin_ca.server.url}/1.0/sign", json={"csr": csr, "ott": ott}, ssl=context
    ) as response:
        return response.status, await response.json()


def sans_of(body: dict[str, object]) -> set[str]:
    leaf = x509.load_pem_x509_certificate(str(body["crt"]).encode())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in names.get_values_for_type(x509.DNSName) + names.get_values_for_type(x509.RFC822Name)}


async def test_oidc_provisioner(admin_ca: AdminCA, tmp_path: Path) -> None:
    with OIDCIssuer() as idp:
        admin = admin_ca.session(SUPER, tmp_path)
        await admin.call("POST", "/admin/provisioners", expect=(201,), body={
            "type": "OIDC", "name": "idp", "details": {"OIDC": {
                "clientId": CLIENT_ID, "configurationEndpoint": idp.configuration_endpoint,
                "domains": ["example.test"], "admins": ["boss@example.test"],
            }},
        })
        time.sleep(0.1)
        token = idp.id_token("alice@example.test", audience=CLIENT_ID)
        status, body = await sign(admin_ca, csr_pem("alice@example.test", emails=["alice@example.test"]), token)
        assert status == 201, body
        assert sans_of(body) == {"alice@example.test"}
        status, body = await sign(admin_ca, csr_pem("alice@example.test", emails=["alice@example.test"]), token)
        assert (status, "token already used" in str(body["message"])) == (401, True)  # nonce replay
        status, body = await sign(admin_ca, csr_pem("x", dns=["x.example.test"]),
                                  idp.id_token("alice@example.test", audience=CLIENT_ID))
        assert status == 403  # a non-admin gets its e-mail address only
        status, body = await sign(admin_ca, csr_pem("mallory@evil.test", emails=["mallory@evil.test"]),
                                  idp.id_token("mallory@evil.test", audience=CLIENT_ID))
        assert (status, "email is not allowed" in str(body["message"])) == (401, True)
        status, _ = await sign(admin_ca, csr_pem("a@example.test", emails=["a@example.test"]),
                               idp.id_token("a@example.test", audience="someone-else", azp=CLIENT_ID))
        assert status == 401  # azp names us but aud does not
        stranger = jwk.JWK.generate(kty="EC", crv="P-256", kid=idp.key.get("kid"))
        status, _ = await sign(admin_ca, csr_pem("a@example.test", emails=["a@example.test"]),
                               idp.id_token("a@example.test", audience=CLIENT_ID, key=stranger))
        assert status == 401  # forged signature
        status, body = await sign(admin_ca, csr_pem("svc.example.test", dns=["svc.example.test"]),
                                  idp.id_token("boss@example.test", audience=CLIENT_ID))
        assert status == 201, body  # admins: CN and SANs from the CSR
        assert sans_of(body) == {"svc.example.test"}
        idp.rotate()  # a new kid makes the CA refresh the JWKS
        status, body = await sign(admin_ca, csr_pem("bob@example.test", emails=["bob@example.test"]),
                                  idp.id_token("bob@example.test", audience=CLIENT_ID))
        assert status == 201, body


def k8s_token(key: ec.EllipticCurvePrivateKey, **claims: object) -> str:
    body = {"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:default:web",
            "kubernetes.io/serviceaccount/namespace": "default", **claims}
    token = jws.JWS(json.dumps(body).encode())
    token.add_signature(jwk.JWK.from_pyca(key), alg="ES256", protected=json.dumps({"alg": "ES256"}))
    return str(token.serialize(compact=True))


async def test_k8ssa_provisioner(admin_ca: AdminCA, tmp_path: Path) -> None:
    cluster = ec.generate_private_key(ec.SECP256R1())
    public = cluster.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    admin = admin_ca.session(SUPER, tmp_path)
    await admin.call("POST", "/admin/provisioners", expect=(201,), body={
        "type": "K8SSA", "name": "k8s", "details": {"K8sSA": {"publicKeys": [base64.b64encode(public).decode()]}},
    })
    status, _ = await admin.raw("POST", "/admin/provisioners", body={
        "type": "K8SSA", "name": "k8s-2", "details": {"K8sSA": {"publicKeys": [base64.b64encode(public).decode()]}},
    })
    assert status == 409  # only one K8sSA provisioner
    status, body = await sign(admin_ca, csr_pem("web.default.svc", dns=["web.default.svc"]), k8s_token(cluster))
    assert status == 201, body
    assert sans_of(body) == {"web.default.svc"}
    other = ec.generate_private_key(ec.SECP256R1())
    status, _ = await sign(admin_ca, csr_pem("web.default.svc", dns=["web.default.svc"]), k8s_token(other))
    assert status == 401
    status, _ = await sign(admin_ca, csr_pem("web.default.svc", dns=["web.default.svc"]),
                           k8s_token(cluster, exp=int(time.time()) - 3600))
    assert status == 401
    status, _ = await sign(admin_ca, csr_pem("web", dns=["web"]), k8s_token(cluster, sub=""))
    assert status == 401
