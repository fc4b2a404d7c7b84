"""The serial numbers ``revoke`` and ``token --revoke`` accept: step's decimal and 0x-hex, and openssl's hex."""

from __future__ import annotations

import pytest

from acmeca.cli.errors import CLIError
from acmeca.cli.main import main
from acmeca.cli.serials import parse_serial


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("123", 123),  # decimal, as step prints serials
        ("0x7b", 123),
        ("0X7B", 123),
        ("7B", 123),  # openssl x509 -serial
        ("7b:01", 0x7B01),  # openssl x509 -text
        ("7B01", 0x7B01),
        ("01:02", 0x0102),  # a colon makes it hex even without a letter
        ("99", 99),  # all digits: decimal, never hex
        ("0099", 99),
        (" 42 ", 42),
        ("7e:5f:a2:9c:13:44:0b:d1:88:02:ff:60:2a:11:c4:9d", 0x7E5FA29C13440BD18802FF602A11C49D),
    ],
)
def test_accepted_forms(text: str, number: int) -> None:
    assert parse_serial(text) == str(number)


@pytest.mark.parametrize(
    "text", ["", "garbage", "0x", "0xzz", "-5", "+5", "0", "0x0", "00:00", "7b::01", ":7b", "7b:", "1_000", "0x7b:01",
             "7b 01", "serial=7B"],
)
def test_anything_else_is_a_one_line_error(text: str) -> None:
    with pytest.raises(CLIError) as raised:
        parse_serial(text)
    assert "\n" not in str(raised.value)


def test_revoke_refuses_a_bad_serial_before_anything_else(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["revoke", "not-a-serial"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: 'not-a-serial' is not a serial number")
