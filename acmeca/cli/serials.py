"""Serial numbers typed on the command line (``revoke``, ``token --revoke``), in the forms people copy them in.

step takes decimal (what ``step certificate inspect`` prints) and ``0x``-prefixed hex; ``openssl x509 -serial``
prints bare upper-case hex and ``openssl x509 -text`` colon-separated lower-case hex. Bare hex is only
recognisable when it has a hex letter or a colon, so an all-digit string is always decimal, as in step.
"""

from __future__ import annotations

import re

from acmeca.cli.errors import CLIError

SERIAL_FORMS = (
    "The serial number may be given in decimal (as step prints it), as 0x-prefixed hex (0x7b01), or as the hex "
    "openssl prints, with or without colons (7B01, 7b:01). Text without a hex letter or a colon is read as "
    "decimal: write 0x99, not 99, for the hex serial 99."
)

_DECIMAL = re.compile(r"[0-9]+")
_PREFIXED_HEX = re.compile(r"0[xX]([0-9a-fA-F]+)")
_OPENSSL_HEX = re.compile(r"[0-9a-fA-F]+(?::[0-9a-fA-F]+)*")


def parse_serial(text: str) -> str:
    """The serial in canonical decimal, as the CA stores and compares it; anything else is a one-line error."""
    value = text.strip()
    if _DECIMAL.fullmatch(value):
        number = int(value, 10)
    elif prefixed := _PREFIXED_HEX.fullmatch(value):
        number = int(prefixed.group(1), 16)
    elif _OPENSSL_HEX.fullmatch(value):
        number = int(value.replace(":", ""), 16)
    else:
        raise CLIError(f"{text!r} is not a serial number: use decimal, 0x-prefixed hex, or hex as openssl prints "
                       "it (7B01 or 7b:01)")
    if number == 0:
        raise CLIError(f"serial number {text!r} must be positive")
    return str(number)
