"""Minimal DER encoding for the two small structures we write ourselves.

cryptography builds every standard extension; what it cannot express are step-ca's provisioner extension and
the acmeIdentifier OCTET STRING of RFC 8737. Both are short fixed shapes, so a tiny, tested encoder beats a
second ASN.1 dependency.
"""

from __future__ import annotations


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative integers are needed here")
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return tlv(0x02, body)


def octet_string(value: bytes) -> bytes:
    return tlv(0x04, value)


def sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def read_octet_string(data: bytes) -> bytes:
    """Decode exactly one DER OCTET STRING, rejecting trailing bytes and non-minimal lengths."""
    tag, value, rest = _read_tlv(data)
    if tag != 0x04:
        raise ValueError("not an OCTET STRING")
    if rest:
        raise ValueError("OCTET STRING length does not match the data")
    return value


def read_provisioner_extension(data: bytes) -> tuple[int, str, str]:
    """Decode step-ca's provisioner extension into (type code, name, credential id)."""
    items = _sequence_items(data)
    if len(items) < 3 or items[0][0] != 0x02 or items[1][0] != 0x04 or items[2][0] != 0x04:
        raise ValueError("not a provisioner extension")
    return int.from_bytes(items[0][1], "big"), items[1][1].decode(), items[2][1].decode()


def _sequence_items(data: bytes) -> list[tuple[int, bytes]]:
    tag, body, rest = _read_tlv(data)
    if tag != 0x30 or rest:
        raise ValueError("not a SEQUENCE")
    items = []
    while body:
        item_tag, value, body = _read_tlv(body)
        items.append((item_tag, value))
    return items


def _read_tlv(data: bytes) -> tuple[int, bytes, bytes]:
    """One DER element: (tag, value, the bytes after it). Lengths must be minimal, as DER requires."""
    if len(data) < 2:
        raise ValueError("truncated DER")
    tag, first = data[0], data[1]
    if first < 0x80:
        length, offset = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise ValueError("bad DER length")
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
        if length < 0x80 or data[2] == 0:
            raise ValueError("non-minimal DER length")
    if len(data) < offset + length:
        raise ValueError("truncated DER: the length does not match the data")
    return tag, data[offset : offset + length], data[offset + length :]


def csr_with_version_zero(data: bytes) -> tuple[int, bytes, bytes]:
    """Split a CertificationRequest (RFC 2986) whose version may not be 0.

    Returns (the version it carries, the certificationRequestInfo element exactly as sent, the whole request
    re-encoded with version 0 and everything else byte for byte). The signature covers the original element,
    so callers verify against that and read fields from the normalised copy.
    """
    tag, body, rest = _read_tlv(data)
    if tag != 0x30 or rest:
        raise ValueError("not a CertificationRequest SEQUENCE")
    tbs_tag, tbs_body, after_tbs = _read_tlv(body)
    if tbs_tag != 0x30:
        raise ValueError("certificationRequestInfo is not a SEQUENCE")
    tbs = body[: len(body) - len(after_tbs)]
    version_tag, version_body, after_version = _read_tlv(tbs_body)
    if version_tag != 0x02 or not version_body:
        raise ValueError("certificationRequestInfo does not start with an INTEGER version")
    version = int.from_bytes(version_body, "big", signed=True)
    normalised = sequence(sequence(integer(0), after_version), after_tbs)
    return version, tbs, normalised
