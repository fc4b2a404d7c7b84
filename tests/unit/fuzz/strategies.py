"""Structured strategies for the fuzzers: valid inputs first, then mutated, so examples reach deep code.

Random bytes alone stop at the first length check. These start from something the parser accepts (a signed
JWS, a real CSR, a working ca.json) and change one part of it: a JSON subtree, a header member, a bit, a cut.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import strategies as st

from tests.support.acme_client import make_csr
from tests.support.csr_versions import with_version


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# -- JSON ------------------------------------------------------------------------------------------------------
# json.loads reads NaN, Infinity and integers of any size, so wire JSON can hold all of them.
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats() | st.text(max_size=12)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16,
)


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def mutated_json(draw: st.DrawFn, base: Any, keys: tuple[str, ...] = ()) -> Any:
    """``base`` with one subtree replaced, dropped or added (``keys`` are names worth trying at any level)."""
    if not isinstance(base, dict | list) or draw(st.integers(0, 4)) == 0:
        return draw(json_values) if draw(st.booleans()) else base
    if isinstance(base, list):
        if not base:
            return [draw(json_values)]
        items = list(base)
        index = draw(st.integers(0, len(items) - 1))
        items[index] = draw(mutated_json(items[index], keys))
        return items
    out = dict(base)
    names = sorted(set(out) | set(keys)) or ["x"]
    name = draw(st.sampled_from(names) | st.text(max_size=6))
    action = draw(st.sampled_from(("replace", "drop", "recurse")))
    if action == "drop":
        out.pop(name, None)
    elif action == "recurse" and name in out:
        out[name] = draw(mutated_json(out[name], keys))
    else:
        out[name] = draw(json_values)
    return out


# -- bytes and text --------------------------------------------------------------------------------------------
@st.composite
def mutated_bytes(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` truncated, bit-flipped, with a slice replaced or bytes inserted (a few times)."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("cut", "flip", "splice", "insert", "byte")))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "cut":
            del data[position:]
        elif kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[position] = draw(st.sampled_from((0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x88, 0xFF)))
        elif kind == "splice":
            end = draw(st.integers(position, len(data)))
            data[position:end] = draw(st.binary(max_size=8))
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@st.composite
def mutated_text(draw: st.DrawFn, base: str) -> str:
    """``base`` cut, a character replaced (often by one outside the alphabet), or text inserted."""
    kind = draw(st.sampled_from(("cut", "replace", "insert", "same")))
    if kind == "same" or not base:
        return base
    position = draw(st.integers(0, len(base) - 1))
    if kind == "cut":
        return base[:position]
    piece = draw(st.sampled_from(("=", "+", "/", ".", " ", "\x00", "é", "A", "_", "-")) | st.text(max_size=3))
    if kind == "replace":
        return base[:position] + piece + base[position + 1:]
    return base[:position] + piece + base[position:]


# -- names and addresses ---------------------------------------------------------------------------------------
_LABEL_CHARS = st.sampled_from("abcxyz019-_*.%:ÄßéΣж中\u200d\u0301ＡxnXN")
labels = st.text(_LABEL_CHARS, min_size=0, max_size=10) | st.sampled_from(
    ("xn--", "xn--a", "xn--zz-", "xn--nxasmq6b", "xn--bcher-kva", "a" * 64, "*", "-a", "a-", "localhost")
)
dns_names = st.lists(labels, min_size=1, max_size=5).map(".".join) | st.text(max_size=30)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
zone_ids = st.sampled_from(("eth0", "1", "", "%", "lo0", "ж"))
ip_texts = st.one_of(
    ipv4, ipv6,
    st.tuples(ipv6, zone_ids).map(lambda p: f"{p[0]}%{p[1]}"),
    st.tuples(ipv4, zone_ids).map(lambda p: f"{p[0]}%{p[1]}"),
    ipv6.map(str.upper),
    ipv6.map(lambda a: ipaddress.IPv6Address(a).exploded),
    ipv4.map(lambda a: ".".join(f"0{p}" for p in a.split("."))),
    ipv4.map(lambda a: f"::ffff:{a}"),
    ipv4.map(lambda a: f"{a}/24"),
    st.text(st.sampled_from("0123456789abcdef:.%[]"), max_size=40),
)


# -- keys, CSRs, certificates ----------------------------------------------------------------------------------
@cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@cache
def valid_csrs() -> tuple[bytes, ...]:
    """CSRs the parser accepts: EC with names and IPs, RSA, Ed25519, and a version-2 request (Go clients)."""
    rsa_key = rsa.generate_private_key(65537, 2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ec_der, _ = make_csr(["a.test", "*.b.test", "xn--bcher-kva.test"], ["192.0.2.1", "2001:db8::1"],
                         key=ec_key(), cn="a.test")
    rsa_der, _ = make_csr(["rsa.test"], key=rsa_key)
    ed_der, _ = make_csr([], ["10.0.0.1"], key=ed_key, cn="ed.test")
    return ec_der, rsa_der, ed_der, with_version(ec_der, ec_key(), 2)


def der_to_pem(der: bytes, label: str = "CERTIFICATE REQUEST") -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n"


@cache
def certificate_chain() -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """(root, client leaf, leaf key): a two-level chain with the extensions an x5c token needs."""
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec_key()
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fuzz Root")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz-admin")])
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name).public_key(root_key.public_key())
        .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder().subject_name(leaf_name).issuer_name(root_name).public_key(leaf_key.public_key())
        .serial_number(2).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    return root, leaf, leaf_key


def cert_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def cert_with_broken_names(*, expired: bool = False) -> bytes:
    """The fuzz leaf with its issuer's and subject's UTF8String tags turned into tag 13 (found by ``make fuzz``:
    cryptography reads names lazily and raises ValueError on first use); ``expired`` also moves notAfter back."""
    der = cert_der(certificate_chain()[1]).replace(b"\x0c\x09Fuzz Root", b"\x0d\x09Fuzz Root", 1)
    der = der.replace(b"\x0c\x0afuzz-admin", b"\x0d\x0afuzz-admin", 1)
    if expired:
        not_after = certificate_chain()[1].not_valid_after_utc.strftime("%y%m%d%H%M%SZ").encode()
        der = der.replace(b"\x17\x0d" + not_after, b"\x17\x0d" + b"000101000000Z", 1)
    return der


@cache
def cert_with_broken_extension() -> x509.Certificate:
    """A certificate whose BasicConstraints extension holds garbage: cryptography raises reading it."""
    key = ec_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "broken")])
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(3).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.UnrecognizedExtension(x509.oid.ExtensionOID.BASIC_CONSTRAINTS, b"\x01\x02garbage"),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
