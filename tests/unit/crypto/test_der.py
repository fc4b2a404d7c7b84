import pytest

from acmeca.crypto import der


def test_provisioner_extension_round_trip_and_bytes() -> None:
    encoded = der.sequence(der.integer(1), der.octet_string(b"admin"), der.octet_string(b"kid123"))
    assert encoded == bytes.fromhex("3012020101040561646d696e04066b6964313233")
    assert der.read_provisioner_extension(encoded) == (1, "admin", "kid123")


def test_long_lengths_and_octet_string_strictness() -> None:
    value = b"x" * 300
    encoded = der.octet_string(value)
    assert encoded[:4] == bytes([0x04, 0x82, 0x01, 0x2C])
    assert der.read_octet_string(encoded) == value
    with pytest.raises(ValueError, match="length"):
        der.read_octet_string(encoded + b"\x00")
    with pytest.raises(ValueError, match="non-minimal"):
        der.read_octet_string(bytes([0x04, 0x81, 0x05]) + b"hello")
    with pytest.raises(ValueError, match="OCTET STRING"):
        der.read_octet_string(bytes([0x05, 0x00]))
