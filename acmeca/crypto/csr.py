"""Parse and verify certificate signing requests into plain names and a public key."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from acmeca.crypto.keys import PublicKey
from acmeca.domain.encoding import b64url_encode

_ALLOWED_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


class InvalidCSR(Exception):
    """The CSR cannot be parsed or its signature does not verify."""


@dataclass(frozen=True)
class ParsedCSR:
    der: bytes
    public_key: PublicKey
    common_name: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    emails: tuple[str, ...]
    uris: tuple[str, ...]
    has_other_sans: bool
    subject: x509.Name

    @property
    def fingerprint(self) -> str:
        """base64url SHA-256 of the DER, as step tokens carry it in ``cnf.x5rt#S256``."""
        return b64url_encode(hashlib.sha256(self.der).digest())


def parse_csr_pem(pem: str | bytes) -> ParsedCSR:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise InvalidCSR(f"cannot parse CSR: {exc}") from None
    return _parsed(csr)


def parse_csr_der(der: bytes) -> ParsedCSR:
    try:
        csr = x509.load_der_x509_csr(der)
    except ValueError as exc:
        raise InvalidCSR(f"cannot parse CSR: {exc}") from None
    return _parsed(csr)


def _parsed(csr: x509.CertificateSigningRequest) -> ParsedCSR:
    try:
        valid = csr.is_signature_valid
    except Exception as exc:  # cryptography raises various types for unsupported algorithms
        raise InvalidCSR(f"cannot verify CSR signature: {exc}") from None
    if not valid:
        raise InvalidCSR("CSR signature does not verify")
    algorithm = csr.signature_hash_algorithm
    if algorithm is not None and not isinstance(algorithm, _ALLOWED_HASHES):
        raise InvalidCSR(f"CSR signature hash {algorithm.name} is not allowed")
    try:
        public_key = csr.public_key()
        names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError as exc:
        raise InvalidCSR(f"cannot read CSR: {exc}") from None
    common_name = str(names[0].value) if names else None
    dns: list[str] = []
    ips: list[str] = []
    emails: list[str] = []
    uris: list[str] = []
    other = False
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    except ValueError as exc:
        raise InvalidCSR(f"cannot read CSR extensions: {exc}") from None
    if san is not None:
        for general_name in san:
            if isinstance(general_name, x509.DNSName):
                dns.append(general_name.value)
            elif isinstance(general_name, x509.IPAddress):
                ips.append(str(general_name.value))
            elif isinstance(general_name, x509.RFC822Name):
                emails.append(general_name.value)
            elif isinstance(general_name, x509.UniformResourceIdentifier):
                uris.append(general_name.value)
            else:
                other = True
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise InvalidCSR("CSR key type is not supported")
    return ParsedCSR(
        der=csr.public_bytes(serialization.Encoding.DER),
        public_key=public_key,
        common_name=common_name,
        dns_names=tuple(dns),
        ip_addresses=tuple(str(ipaddress.ip_address(a)) for a in ips),
        emails=tuple(emails),
        uris=tuple(uris),
        has_other_sans=other,
        subject=csr.subject,
    )


def build_csr_pem(key: object, common_name: str | None, dns_names: list[str], ips: list[str]) -> bytes:
    """A CSR as the CLI sends it (CN + SANs); used by clients, not by the issuing path."""
    from acmeca.crypto.keys import PrivateKey

    if not isinstance(key, PrivateKey):
        raise TypeError("unsupported key")
    builder = x509.CertificateSigningRequestBuilder()
    if common_name:
        builder = builder.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
    else:
        builder = builder.subject_name(x509.Name([]))
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, digest).public_bytes(serialization.Encoding.PEM)
