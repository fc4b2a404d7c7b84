"""Hostile CSR builders: requests whose version field is not 0, as some ACME clients sent until 2024.

cryptography will not build such a request, so we take a normal one, patch the INTEGER version inside
certificationRequestInfo and sign the patched bytes again with the same key and algorithm.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(body)]) + body + value


def _header_length(data: bytes) -> int:
    return 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)


def with_version(csr_der: bytes, key: Any, version: int = 2, *, break_signature: bool = False) -> bytes:
    """``csr_der`` with certificationRequestInfo's version set to ``version`` (0..127), re-signed by ``key``."""
    csr = x509.load_der_x509_csr(csr_der)
    tbs = csr.tbs_certrequest_bytes
    head = _header_length(tbs)
    assert tbs[head : head + 3] == b"\x02\x01\x00", "expected version 0 first in certificationRequestInfo"
    patched = tbs[:head] + bytes([0x02, 0x01, version]) + tbs[head + 3 :]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(patched)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(patched, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(patched, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise TypeError(f"unsupported key {type(key)}")
    if break_signature:
        signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
    outer = csr_der[_header_length(csr_der) :]
    after_tbs = outer[len(tbs) :]
    algorithm = after_tbs[: _header_length(after_tbs) + after_tbs[1]]  # AlgorithmIdentifier: short form
    return _tlv(0x30, patched + algorithm + _tlv(0x03, b"\x00" + signature))
