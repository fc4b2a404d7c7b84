"""Extra PKI pieces tests need: a second root that cross-signs our intermediate (alternate chains)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acmeca.crypto.keys import load_private_key


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cross_signed_chain(home: Path, password: bytes, *, other_root_cn: str = "Other Root CA") -> tuple[Path, Path]:
    """Write certs/other_root.crt and certs/intermediate_cross.crt (our intermediate key, signed by it)."""
    intermediate = x509.load_pem_x509_certificate((home / "certs" / "intermediate_ca.crt").read_bytes())
    intermediate_key = load_private_key(home / "secrets" / "intermediate_ca_key", password)
    now = datetime.now(UTC) - timedelta(minutes=5)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder().subject_name(_name(other_root_cn)).issuer_name(_name(other_root_cn))
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    cross = (
        x509.CertificateBuilder().subject_name(intermediate.subject).issuer_name(root.subject)
        .public_key(intermediate_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(intermediate_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    root_path, cross_path = home / "certs" / "other_root.crt", home / "certs" / "intermediate_cross.crt"
    root_path.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    cross_path.write_bytes(cross.public_bytes(serialization.Encoding.PEM))
    return cross_path, root_path


def issue_intermediate(
    root: x509.Certificate, root_key: Any, key: Any, common_name: str, now: datetime
) -> x509.Certificate:
    """An intermediate for ``key`` under ``root`` (intermediate rotation), as acmeca init makes one."""
    return (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(root.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
