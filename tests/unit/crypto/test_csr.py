"""CSR parsing: a request whose version is not 0 is read as Go-based CAs read it; nothing else gets past."""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from acmeca.crypto import der
from acmeca.crypto.csr import InvalidCSR, parse_csr_der, parse_csr_pem
from acmeca.domain.encoding import b64url_encode
from tests.support.acme_client import make_csr
from tests.support.csr_versions import with_version


def _pem(data: bytes) -> str:
    body = base64.encodebytes(data).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP256R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["ec", "rsa", "ed25519"],
)
def test_version_2_csr_is_read_and_its_signature_checked_over_the_bytes_sent(
    key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    normal, _ = make_csr(["www.test"], ["192.0.2.7"], key=key, cn="www.test")
    v2 = with_version(normal, key, 2)
    assert v2 != normal
    with caplog.at_level(logging.WARNING, logger="acmeca.crypto.csr"):
        parsed = parse_csr_der(v2)
    assert "version 2" in caplog.text
    assert parsed.dns_names == ("www.test",)
    assert parsed.ip_addresses == ("192.0.2.7",)
    assert parsed.common_name == "www.test"
    assert parsed.der == v2  # the request as sent: step's cnf fingerprint is over these bytes
    assert parsed.fingerprint == b64url_encode(hashlib.sha256(v2).digest())
    assert parse_csr_pem(_pem(v2)).dns_names == ("www.test",)


def test_version_2_csr_with_a_broken_signature_is_invalid() -> None:
    normal, key = make_csr(["www.test"])
    with pytest.raises(InvalidCSR, match="does not verify"):
        parse_csr_der(with_version(normal, key, 2, break_signature=True))
    with pytest.raises(InvalidCSR, match="does not verify"):
        parse_csr_pem(_pem(with_version(normal, key, 2, break_signature=True)))


def test_version_2_csr_signed_by_another_key_is_invalid() -> None:
    normal, _ = make_csr(["www.test"])
    with pytest.raises(InvalidCSR):
        parse_csr_der(with_version(normal, ec.generate_private_key(ec.SECP256R1()), 2))


def test_the_normal_signature_over_a_patched_version_does_not_verify() -> None:
    """Patching the version without re-signing must fail: the signature covers the original bytes."""
    normal, _ = make_csr(["www.test"])
    at = normal.index(b"\x02\x01\x00")
    assert at <= 8  # the first INTEGER: certificationRequestInfo's version, right after two headers
    tampered = normal[:at] + b"\x02\x01\x02" + normal[at + 3 :]
    with pytest.raises(InvalidCSR):
        parse_csr_der(tampered)


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"\x30\x03\x02\x01\x02", b"\x30\x05\x30\x03\x02\x01\x02", b"\x30\x80\x00\x00", b"\x05\x00"],
)
def test_garbage_is_invalid_never_another_error(data: bytes) -> None:
    with pytest.raises(InvalidCSR):
        parse_csr_der(data)
    with pytest.raises(InvalidCSR):
        parse_csr_pem(_pem(data) if data else "not pem")


def test_version_zero_copy_keeps_everything_but_the_version() -> None:
    normal, key = make_csr(["www.test"])
    v2 = with_version(normal, key, 2)
    version, signed, normalised = der.csr_with_version_zero(v2)
    assert version == 2
    assert signed in v2
    assert signed.startswith(b"\x30")
    assert len(normalised) == len(v2)
    with pytest.raises(InvalidCSR, match="does not verify"):  # the copy loads, but nothing signed it
        parse_csr_der(normalised)
    with pytest.raises(ValueError, match="not a CertificationRequest"):
        der.csr_with_version_zero(v2 + b"\x00")
