from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from acmeca.crypto.certbuild import sign_crl
from acmeca.crypto.keys import SigningKey

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "hash_name"),
    [(ec.generate_private_key(ec.SECP256R1()), "sha256"), (ed25519.Ed25519PrivateKey.generate(), None)],
)
def test_sign_crl_returns_der_signed_like_certificates(key: SigningKey, hash_name: str | None) -> None:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
        .last_update(NOW)
        .next_update(NOW + timedelta(hours=1))
    )
    crl = x509.load_der_x509_crl(sign_crl(builder, key))
    assert crl.is_signature_valid(key.public_key())
    algorithm = crl.signature_hash_algorithm
    assert (algorithm.name if isinstance(algorithm, hashes.HashAlgorithm) else None) == hash_name
