"""Serial numbers: 128 bits from the CSPRNG with a non-zero first byte below 0x80.

That keeps the DER INTEGER positive and exactly 16 bytes (BR §7.1: at least 64 random bits, below 2^159).
"""

from __future__ import annotations

import secrets


def new_serial() -> int:
    first = secrets.randbelow(0x7F) + 1
    return (first << 120) | secrets.randbits(120)


def canonical_serial(text: str) -> str:
    """Decimal form of a serial given as decimal or ``0x``-prefixed hex (step's revoke rule)."""
    value = text.strip()
    try:
        number = int(value[2:], 16) if value.lower().startswith("0x") else int(value, 10)
    except ValueError:
        raise ValueError(f"serial number {text!r} is not a decimal or 0x-prefixed hexadecimal number") from None
    if number <= 0:
        raise ValueError(f"serial number {text!r} must be positive")
    return str(number)
