"""badkeys through WeakKeyChecker: weak RSA keys found, good keys and EC keys passed, verdicts cached, the
optional blocklist read from a configured directory, and no failing check able to stop the CA."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from acmeca.crypto import weakkeys
from acmeca.crypto.weakkeys import WeakKey, WeakKeyChecker
from tests.support.weak_rsa import fermat_key, roca_key

GOOD_RSA = rsa.generate_private_key(65537, 2048).public_key()


def test_fermat_and_roca_keys_are_weak_and_say_why() -> None:
    checker = WeakKeyChecker()
    fermat, roca = checker.verdict(fermat_key()), checker.verdict(roca_key())
    assert fermat is not None
    assert fermat.check == "fermat"
    assert "Fermat" in fermat.reason
    assert roca is not None
    assert roca.check == "roca"
    assert "ROCA" in roca.reason


@pytest.mark.parametrize("key", [
    GOOD_RSA, ec.generate_private_key(ec.SECP256R1()).public_key(), ed25519.Ed25519PrivateKey.generate().public_key(),
], ids=["rsa", "p256", "ed25519"])
def test_ordinary_keys_pass(key: object) -> None:
    assert WeakKeyChecker().verdict(key) is None  # type: ignore[arg-type]


def test_verdicts_are_cached_by_spki_in_a_bounded_lru() -> None:
    checker = WeakKeyChecker(cache_size=2)
    weak = fermat_key()
    assert checker.cached_verdict(weak) == (False, None)
    found = checker.verdict(weak)
    assert checker.cached_verdict(weak) == (True, found)
    checker.verdict(GOOD_RSA)
    checker.verdict(ec.generate_private_key(ec.SECP256R1()).public_key())
    assert checker.cached_verdict(weak) == (False, None), "the least recently used verdict was dropped"
    assert checker.cached_verdict(GOOD_RSA) == (True, None)


def _record(value: int) -> bytes:
    """badkeys' own format: SHA-256(value as big-endian bytes)[:15] + the list's id byte, 16 bytes sorted."""
    return hashlib.sha256(value.to_bytes((value.bit_length() + 7) // 8, "big")).digest()[:15] + bytes([7])


def _blocklist(directory: Path, key: rsa.RSAPublicKey, *more: int) -> Path:
    records = sorted([_record(key.public_numbers().n), *(_record(v) for v in more), bytes(15) + bytes([1])])
    directory.mkdir()
    (directory / "blocklist.dat").write_bytes(b"".join(records))
    (directory / "badkeysdata.json").write_text(json.dumps({"blocklists": [{"id": 7, "name": "testkeys"}]}))
    return directory


def test_a_configured_blocklist_refuses_a_listed_key_and_only_it(tmp_path: Path) -> None:
    listed = rsa.generate_private_key(65537, 2048).public_key()
    checker = WeakKeyChecker(blocklist_dir=_blocklist(tmp_path / "bl", listed))
    verdict = checker.verdict(listed)
    assert verdict is not None
    assert verdict.check == "blocklist"
    assert "published" in verdict.reason
    assert checker.verdict(GOOD_RSA) is None


def test_the_blocklist_covers_ec_and_ed25519_keys_too(tmp_path: Path) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    edkey = ed25519.Ed25519PrivateKey.generate().public_key()
    directory = _blocklist(tmp_path / "bl", GOOD_RSA, p256.public_numbers().x,
                           int.from_bytes(edkey.public_bytes_raw(), "big"))
    checker = WeakKeyChecker(blocklist_dir=directory)
    assert [checker.verdict(k) for k in (p256, edkey)] == [WeakKey("blocklist")] * 2
    assert checker.verdict(ec.generate_private_key(ec.SECP256R1()).public_key()) is None


def test_without_a_blocklist_dir_the_blocklist_check_is_never_called(monkeypatch: pytest.MonkeyPatch) -> None:
    from badkeys.allkeys import block

    def explode(value: object) -> None:
        raise AssertionError("called")

    monkeypatch.setattr(block, "blocklist", explode)
    assert WeakKeyChecker().verdict(rsa.generate_private_key(65537, 2048).public_key()) is None


def test_a_check_that_exits_or_raises_gives_no_verdict_is_logged_once_and_never_crashes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """badkeys calls sys.exit when its blocklist files are gone (here: removed after the config check)."""
    directory = _blocklist(tmp_path / "bl", GOOD_RSA)
    checker = WeakKeyChecker(blocklist_dir=directory)
    (directory / "blocklist.dat").unlink()
    (directory / "badkeysdata.json").unlink()
    caplog.set_level(logging.ERROR, logger=weakkeys.__name__)
    for _ in range(3):
        assert checker.verdict(rsa.generate_private_key(65537, 2048).public_key()) is None
    assert checker.verdict(fermat_key()) is not None, "the other checks still run"
    failures = [r for r in caplog.records if "badkeys check failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].check == "blocklist"  # type: ignore[attr-defined]
    assert "SystemExit" in failures[0].error  # type: ignore[attr-defined]


def test_ec_and_ed25519_keys_need_no_check_unless_a_blocklist_is_configured(tmp_path: Path) -> None:
    """The engine skips the executor (and badkeys' import) for keys no configured check looks at."""
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    edkey = ed25519.Ed25519PrivateKey.generate().public_key()
    assert [WeakKeyChecker().applies_to(k) for k in (GOOD_RSA, p256, edkey)] == [True, False, False]
    assert WeakKeyChecker(blocklist_dir=tmp_path).applies_to(p256)
