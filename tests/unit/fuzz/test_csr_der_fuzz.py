"""Fuzzing the CSR readers (DER for ACME finalize, PEM for /1.0/sign and /1.0/rekey) and our DER reader.

Examples are real CSRs (EC with names and IPs, RSA, Ed25519, a version-2 request) cut, bit-flipped, spliced
or with bytes inserted, so most of them get past the outer SEQUENCE into cryptography's and our own parsing.
"""

from __future__ import annotations

import contextlib

from hypothesis import example, given
from hypothesis import strategies as st

from acmeca.crypto import der
from acmeca.crypto.csr import InvalidCSR, parse_csr_der, parse_csr_pem
from acmeca.domain.errors import CAError
from acmeca.step.service import parse_csr_or_malformed
from tests.unit.fuzz.strategies import der_to_pem, mutated_bytes, mutated_text, valid_csrs

csr_ders = st.sampled_from(range(4)).flatmap(lambda i: st.just(valid_csrs()[i]) | mutated_bytes(valid_csrs()[i]))


@given(csr_ders)
def test_der_csr_parses_or_raises_invalid_csr(data: bytes) -> None:
    try:
        parsed = parse_csr_der(data)
    except InvalidCSR:
        return
    assert parsed.der


@given(csr_ders.map(der_to_pem).flatmap(lambda pem: st.just(pem) | mutated_text(pem)))
@example("-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n")
@example("-----BEGIN NEW CERTIFICATE REQUEST-----\nMAA=\n-----END NEW CERTIFICATE REQUEST-----\n")
def test_pem_csr_for_sign_parses_or_raises_malformed(pem: str) -> None:
    """What /1.0/sign and /1.0/rekey call on the ``csr`` member: a CSR or Malformed, never anything else."""
    with contextlib.suppress(CAError):
        parse_csr_or_malformed(pem)
    with contextlib.suppress(InvalidCSR):
        parse_csr_pem(pem.encode("utf-8", "surrogatepass"))


@given(csr_ders)
def test_version_splitter_returns_or_raises_value_error(data: bytes) -> None:
    try:
        _version, signed, normalised = der.csr_with_version_zero(data)
    except ValueError:
        return
    assert signed in data
    assert normalised


_EXTENSION = der.sequence(der.integer(1), der.octet_string(b"admin"), der.octet_string(b"kid-\xc3\xa9"))


@given(st.just(_EXTENSION) | mutated_bytes(_EXTENSION) | st.binary(max_size=40))
@example(der.sequence(der.integer(1), der.octet_string(b"\xff"), der.octet_string(b"")))
@example(bytes([0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]))
def test_provisioner_extension_reads_or_raises_value_error(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        der.read_provisioner_extension(data)


@given(st.binary(max_size=300).map(der.octet_string).flatmap(lambda d: st.just(d) | mutated_bytes(d)))
def test_octet_string_reads_or_raises_value_error(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        der.read_octet_string(data)
