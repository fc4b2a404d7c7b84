"""The trust endpoints of a real server over real TLS, on SQLite and PostgreSQL (stepca.md §1.3)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.support.ca_server import CAServer
from tests.support.https import call

PREFIXES = ["", "/1.0"]


def _root(ca: CAServer) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ca.root_path.read_bytes())


@pytest.mark.parametrize("prefix", PREFIXES)
def test_health_version_and_bundles(shared_ca_server: CAServer, prefix: str) -> None:
    base = shared_ca_server.url + prefix
    assert call(f"{base}/health", root=shared_ca_server.root_path).json() == {"status": "ok"}
    assert "version" in call(f"{base}/version", root=shared_ca_server.root_path).json()
    root_pem = shared_ca_server.root_path.read_text()
    for path in ("roots", "federation"):
        reply = call(f"{base}/{path}", root=shared_ca_server.root_path)
        assert reply.status == 201  # step-ca's quirk, kept for compatibility
        assert reply.json() == {"crts": [root_pem]}
    reply = call(f"{base}/intermediates", root=shared_ca_server.root_path)
    assert reply.status == 201
    assert reply.json()["crts"] == [(shared_ca_server.home / "certs" / "intermediate_ca.crt").read_text()]
    pem = call(f"{base}/roots.pem", root=shared_ca_server.root_path)
    assert pem.status == 200
    assert pem.headers["Content-Type"].startswith("application/x-pem-file")
    assert pem.body.decode() == root_pem
    head = call(f"{base}/roots", root=shared_ca_server.root_path, method="HEAD")
    assert head.status == 201
    assert head.body == b""


def test_root_by_fingerprint(shared_ca_server: CAServer) -> None:
    digest = hashlib.sha256(_root(shared_ca_server).public_bytes(Encoding.DER)).hexdigest()
    for fingerprint in (digest, digest.upper(), "-".join(digest[i:i + 8] for i in range(0, 64, 8))):
        reply = call(f"{shared_ca_server.url}/root/{fingerprint}", root=shared_ca_server.root_path)
        assert reply.status == 200
        assert reply.json() == {"ca": shared_ca_server.root_path.read_text()}
    missing = call(f"{shared_ca_server.url}/1.0/root/{'0' * 64}", root=shared_ca_server.root_path)
    assert missing.status == 404
    assert missing.json() == {
        "status": 404, "message": f'root certificate with fingerprint "{"0" * 64}" was not found'
    }


def test_server_certificate_chains_to_root_and_is_in_the_store(shared_ca_server: CAServer) -> None:
    import socket
    import ssl

    context = ssl.create_default_context(cafile=str(shared_ca_server.root_path))
    with socket.create_connection(("127.0.0.1", shared_ca_server.port)) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True) or b"")
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "issued" in shared_ca_server.log() or "certificate issued" in shared_ca_server.log()
    assert str(leaf.serial_number) in shared_ca_server.log()  # the audit line of the engine names it


def test_provisioners_paging_and_encrypted_key(shared_ca_server: CAServer) -> None:
    url = f"{shared_ca_server.url}/provisioners"
    everything = call(url, root=shared_ca_server.root_path).json()
    assert [p["name"] for p in everything["provisioners"]] == ["admin", "acme"]
    assert everything["nextCursor"] == ""
    first = call(f"{url}?limit=1", root=shared_ca_server.root_path).json()
    assert [p["name"] for p in first["provisioners"]] == ["admin"]
    second = call(f"{url}?limit=1&cursor={first['nextCursor']}", root=shared_ca_server.root_path).json()
    assert [p["name"] for p in second["provisioners"]] == ["acme"]
    assert second["nextCursor"] == ""
    jwk = first["provisioners"][0]
    url = f"{shared_ca_server.url}/1.0/provisioners/{jwk['key']['kid']}/encrypted-key"
    key = call(url, root=shared_ca_server.root_path)
    assert key.json() == {"key": jwk["encryptedKey"]}


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/provisioners?limit=abc", 400, "The request could not be completed: limit 'abc' is not an integer."),
        ("/provisioners?cursor=zz", 400, "The request could not be completed: cursor 'zz' is not valid."),
        ("/provisioners/nope/encrypted-key", 404, "encrypted key with kid 'nope' was not found"),
        ("/no/such/thing", 404, "the requested resource could not be found"),
    ],
)
def test_bad_requests_get_step_json_errors(shared_ca_server: CAServer, path: str, status: int, message: str) -> None:
    reply = call(shared_ca_server.url + path, root=shared_ca_server.root_path)
    assert reply.status == status
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json() == {"status": status, "message": message}


def test_wrong_method_is_405_json(shared_ca_server: CAServer) -> None:
    reply = call(f"{shared_ca_server.url}/health", root=shared_ca_server.root_path, method="DELETE")
    assert reply.status == 405
    assert reply.json()["status"] == 405
