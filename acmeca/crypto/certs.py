"""Reading certificates: PEM bundles, fingerprints, key identifiers and the provisioner extension."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acmeca.crypto import der
from acmeca.crypto.certbuild_oids import PROVISIONER_EXTENSION_OID


def load_pem_bundle(data: bytes, *, source: str = "bundle") -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ValueError(f"{source} holds no valid PEM certificate: {exc}") from None
    return certificates


def load_certificate_file(path: Path) -> x509.Certificate:
    return load_pem_bundle(path.read_bytes(), source=str(path))[0]


def to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def to_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def der_to_pem(data: bytes) -> str:
    return to_pem(x509.load_der_x509_certificate(data))


def sha256_fingerprint(certificate: x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the DER, the form step prints and ``/root/{sha}`` takes."""
    return hashlib.sha256(to_der(certificate)).hexdigest()


def subject_key_id(certificate: x509.Certificate) -> str:
    try:
        value = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        value = x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest
    return value.hex()


def authority_key_id(certificate: x509.Certificate) -> str | None:
    try:
        value = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    return value.key_identifier.hex() if value.key_identifier else None


def provisioner_of(certificate: x509.Certificate) -> tuple[int, str, str] | None:
    """(type code, name, credential id) from step-ca's provisioner extension, if present."""
    try:
        extension = certificate.extensions.get_extension_for_oid(PROVISIONER_EXTENSION_OID)
    except x509.ExtensionNotFound:
        return None
    value = extension.value
    if not isinstance(value, x509.UnrecognizedExtension):
        return None
    try:
        return der.read_provisioner_extension(value.value)
    except ValueError:
        return None


def common_name(certificate: x509.Certificate) -> str | None:
    attributes = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(attributes[0].value) if attributes else None


def spki_sha256_of(certificate: x509.Certificate) -> str:
    return hashlib.sha256(
        certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).hexdigest()
