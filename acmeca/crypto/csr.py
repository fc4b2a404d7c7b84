"""Parse and verify certificate signing requests into plain names and a public key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import logging
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from acmeca.crypto.der import csr_with_version_zero
from acmeca.crypto.keys import PublicKey
from acmeca.domain.encoding import b64url_encode

log = logging.getLogger(__name__)

_ALLOWED_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
_PEM_CSR = re.compile(
    rb"-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----(.*?)-----END (?:NEW )?CERTIFICATE REQUEST-----", re.S
)


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
    except x509.InvalidVersion:
        return _parse_nonzero_version(_pem_body(data))
    except ValueError as exc:
        raise InvalidCSR(f"cannot parse CSR: {exc}") from None
    return _guarded(csr, data=None)


def parse_csr_der(der: bytes) -> ParsedCSR:
    try:
        csr = x509.load_der_x509_csr(der)
    except x509.InvalidVersion:
        return _parse_nonzero_version(der)
    except ValueError as exc:
        raise InvalidCSR(f"cannot parse CSR: {exc}") from None
    return _guarded(csr, data=None)


def _pem_body(data: bytes) -> bytes:
    found = _PEM_CSR.search(data)
    if found is None:
        raise InvalidCSR("cannot parse CSR: no CERTIFICATE REQUEST PEM block")
    try:
        return base64.b64decode(b"".join(found.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCSR("cannot parse CSR: the PEM body is not base64") from None


def _parse_nonzero_version(der: bytes) -> ParsedCSR:
    """A CSR whose version is not 0 (RFC 2986 knows only v1 = 0), accepted as Go-based CAs accept it.

    Some ACME clients sent version 2 for years, and Go's x509 ignores the field. cryptography refuses to load
    such a request, so we re-encode it with version 0 to read its fields, and verify the signature ourselves
    over the certificationRequestInfo exactly as the client signed it.
    """
    try:
        version, signed_info, normalised = csr_with_version_zero(der)
        csr = x509.load_der_x509_csr(normalised)
    except (ValueError, x509.InvalidVersion) as exc:
        raise InvalidCSR(f"cannot parse CSR: {exc}") from None
    try:
        _verify(csr, signed_info)
    except InvalidSignature:
        raise InvalidCSR("CSR signature does not verify") from None
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        raise InvalidCSR(f"cannot verify CSR signature: {exc}") from None
    log.warning("accepting a CSR with version %d (not 0), as Go-based CAs do", version)
    return _guarded(csr, data=der)


def _verify(csr: x509.CertificateSigningRequest, signed_info: bytes) -> None:
    """Check ``csr.signature`` over ``signed_info`` with the CSR's own key and signature algorithm."""
    key = csr.public_key()
    algorithm = csr.signature_hash_algorithm
    parameters = csr.signature_algorithm_parameters
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(csr.signature, signed_info)
    elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(parameters, ec.ECDSA):
        key.verify(csr.signature, signed_info, parameters)
    elif (
        isinstance(key, rsa.RSAPublicKey)
        and isinstance(parameters, padding.PKCS1v15 | padding.PSS)
        and algorithm is not None
    ):
        key.verify(csr.signature, signed_info, parameters, algorithm)
    else:
        raise UnsupportedAlgorithm("CSR signature algorithm does not fit its key")


def _guarded(csr: x509.CertificateSigningRequest, *, data: bytes | None) -> ParsedCSR:
    """``_parsed``, with any reading failure cryptography may raise turned into InvalidCSR (never a 500)."""
    try:
        return _parsed(csr, verified_der=data)
    except InvalidCSR:
        raise
    except Exception as exc:  # DuplicateExtension, UnsupportedGeneralNameType, ValueError, ...
        raise InvalidCSR(f"cannot read CSR: {exc}") from None


def _parsed(csr: x509.CertificateSigningRequest, *, verified_der: bytes | None = None) -> ParsedCSR:
    """Read a CSR; ``verified_der`` is the request as sent when its signature was already checked over it."""
    if verified_der is None:
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
        der=verified_der if verified_der is not None else csr.public_bytes(serialization.Encoding.DER),
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
