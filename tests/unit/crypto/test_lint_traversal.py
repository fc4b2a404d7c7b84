"""The pruned pkilint traversal (acmeca/crypto/lint.py, prune_traversal) finds exactly what pkilint's own does.

Every validator tree is built twice, one left as pkilint makes it, and both are run over the same documents:
leaves of every shape the engine signs, leaves with error findings, CA certificates and CRLs. The complete
results (validator, node, findings, in order) must be equal, not only the error codes acmeca keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from acmeca.crypto import certs, lint
from acmeca.crypto.certbuild import CertificateTemplate, ProvisionerExtension, build_certificate
from acmeca.crypto.keys import KeySpec, generate_key
from acmeca.domain.records import RevokedEntry
from acmeca.domain.status import RevocationReason
from acmeca.engine.crl import build_crl
from acmeca.engine.pki import create_ca_certificates
from acmeca.engine.trust import SigningAuthority

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEY = generate_key(KeySpec(kty="EC", size=0))
PKI = create_ca_certificates("Test", generate_key(KeySpec()), KEY, now=NOW - timedelta(days=1))
AUTHORITY = SigningAuthority(certificate=PKI.intermediate, key=KEY, chain=(PKI.intermediate,))


def _cn(value: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value)])


def _leaf(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "serial": 0x1234567890ABCDEF, "subject": _cn("svc.example"),
        "public_key": ec.generate_private_key(ec.SECP256R1()).public_key(), "not_before": NOW,
        "not_after": NOW + timedelta(hours=24), "dns_names": ("svc.example",),
        "ext_key_usage": ("serverAuth", "clientAuth"), "crl_distribution_points": ("https://localhost:8443/1.0/crl",),
        "provisioner": ProvisionerExtension(1, "admin", "kid-1"),
    }
    fields.update(changes)
    return certs.to_der(build_certificate(CertificateTemplate(**fields), PKI.intermediate, KEY))


DOCUMENTS = {
    "default leaf": _leaf(),
    "rsa key": _leaf(public_key=rsa.generate_private_key(65537, 2048).public_key()),
    "ed25519 key": _leaf(public_key=ed25519.Ed25519PrivateKey.generate().public_key()),
    "ip sans, no cn": _leaf(subject=x509.Name([]), dns_names=(), ip_addresses=("192.0.2.7", "2001:db8::1")),
    "wildcard and single label": _leaf(dns_names=("*.example.com", "localhost")),
    "emails and uris": _leaf(emails=("ops@svc.example",), uris=("spiffe://svc.example/ns/a", "https://x.example/")),
    "bad uri": _leaf(uris=("not a uri",)),
    "keyCertSign on a leaf, no names": _leaf(subject=x509.Name([]), dns_names=(),
                                             key_usage=frozenset({"digitalSignature", "certSign"})),
    "ca without path length": _leaf(is_ca=True, key_usage=frozenset({"certSign", "crlSign"})),
    "no extensions beyond the defaults": _leaf(ext_key_usage=(), crl_distribution_points=(), provisioner=None),
    "root": certs.to_der(PKI.root),
    "intermediate": certs.to_der(PKI.intermediate),
}


def _results(tree: Any, der: bytes, loader_name: str) -> list[tuple[str, str, list[str]]]:
    from pkilint import loader

    document = getattr(loader, loader_name)().load_der_document(der, "doc")
    return [(r.validator.name, r.node.path, [repr(f) for f in r.finding_descriptions])
            for r in tree.validate(document.root)]


@pytest.mark.parametrize("tree", ["rfc5280", "cabf"])
@pytest.mark.parametrize("name", DOCUMENTS)
def test_pruned_certificate_lint_equals_pkilint(tree: str, name: str) -> None:
    plain, pruned = lint._BUILDERS[tree](), lint._BUILDERS[tree]()
    lint.prune_traversal(pruned)
    for _ in range(2):  # the second run answers from the (path, type) memo
        expected = _results(plain, DOCUMENTS[name], "RFC5280CertificateDocumentLoader")
        assert _results(pruned, DOCUMENTS[name], "RFC5280CertificateDocumentLoader") == expected
    assert expected  # the tree did visit the document


def test_the_pruned_tree_still_finds_errors() -> None:
    assert [f.code for f in lint.lint_certificate(DOCUMENTS["bad uri"])] == ["pkix.invalid_uri_syntax"]
    assert "pkix.ee_certificate_keycertsign_keyusage_set" in {
        f.code for f in lint.lint_certificate(DOCUMENTS["keyCertSign on a leaf, no names"])
    }


@pytest.mark.parametrize("listed", [0, 2])
def test_pruned_crl_lint_equals_pkilint(listed: int) -> None:
    entries = [RevokedEntry(str(4660 + i), NOW, RevocationReason.KEY_COMPROMISE) for i in range(listed)]
    der = build_crl(AUTHORITY, entries, number=3, now=NOW, next_update=NOW + timedelta(hours=24),
                    idp_url="https://localhost:8443/1.0/crl")
    plain, pruned = lint._BUILDERS["crl"](), lint._BUILDERS["crl"]()
    lint.prune_traversal(pruned)
    expected = _results(plain, der, "RFC5280CertificateListDocumentLoader")
    assert _results(pruned, der, "RFC5280CertificateListDocumentLoader") == expected
    assert expected
